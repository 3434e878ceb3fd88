# Install rules: where `cmake --install` (and so the .deb) puts Bonsai's files, by the
# GNUInstallDirs layout. One application id names the desktop entry, the AppStream metainfo
# and the icon; the demo model goes to share/bonsai/demo/. Included from the top CMakeLists
# after app/ is added. The installed binaries carry no RPATH (they link only system libraries).
include(GNUInstallDirs)

set(BONSAI_APP_ID io.github.bonsai.Bonsai)
set(BONSAI_RESOURCES ${PROJECT_SOURCE_DIR}/resources)

install(TARGETS bonsai-cli RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
if(BONSAI_BUILD_GUI)
  install(TARGETS bonsai RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
  install(FILES ${BONSAI_RESOURCES}/${BONSAI_APP_ID}.desktop
    DESTINATION ${CMAKE_INSTALL_DATADIR}/applications)
  install(FILES ${BONSAI_RESOURCES}/${BONSAI_APP_ID}.metainfo.xml
    DESTINATION ${CMAKE_INSTALL_DATADIR}/metainfo)
  install(FILES ${BONSAI_RESOURCES}/bonsai.svg
    DESTINATION ${CMAKE_INSTALL_DATADIR}/icons/hicolor/scalable/apps
    RENAME ${BONSAI_APP_ID}.svg)
  # PNG renderings of the SVG (resources/icons/) for menus and docks that do not read SVG.
  foreach(size 48 64 128 256)
    install(FILES ${BONSAI_RESOURCES}/icons/bonsai-${size}.png
      DESTINATION ${CMAKE_INSTALL_DATADIR}/icons/hicolor/${size}x${size}/apps
      RENAME ${BONSAI_APP_ID}.png)
  endforeach()
endif()
install(FILES ${BONSAI_RESOURCES}/demo/fashion_cnn.onnx ${BONSAI_RESOURCES}/demo/README.md
  DESTINATION ${CMAKE_INSTALL_DATADIR}/bonsai/demo)
