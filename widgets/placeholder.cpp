// Placeholder so the library has a source until the widgets land.
namespace bonsai_widgets_placeholder { int unused = 0; }
