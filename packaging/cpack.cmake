# CPack settings for `cpack -G DEB` in a build tree: one package "bonsai" with everything that
# install.cmake installs, under /usr. Depends is computed by dpkg-shlibdeps from the installed
# binaries, so it names exactly the Debian runtime packages (Qt, libonnx, protobuf, libgomp,
# zlib, libstb, ...) of the libraries they link. Included from the top CMakeLists last.
set(CPACK_PACKAGE_NAME bonsai)
set(CPACK_PACKAGE_VENDOR "Bonsai developers")
set(CPACK_PACKAGE_CONTACT "Bonsai developers <dev@bonsai.invalid>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "Desktop workbench for neural-network compression")
set(CPACK_PACKAGE_DESCRIPTION
  "Bonsai opens a model file (safetensors, ONNX, GGUF or a Hugging Face checkpoint folder),
shows every layer's size, weight distribution and per-channel ranges, and compresses layer by
layer (quantization with RTN, GPTQ or AWQ, sparsity, low rank), measuring accuracy or
perplexity against size. Includes the headless bonsai-cli and a demo Fashion-MNIST model.")
set(CPACK_STRIP_FILES ON)

set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION science)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)

# `cpack --config CPackSourceConfig.cmake`: the sources without build trees and Git data.
set(CPACK_SOURCE_GENERATOR TGZ)
set(CPACK_SOURCE_IGNORE_FILES "/\\.git/" "/\\.git$" "/build/" "\\.user$")

include(CPack)
