# The pages' files, embedded into ticketd at build time (as the OpenAPI
# document is): every file under api/web/static/ is served at
# /assets/<its path>, and two uPlot files from npm at /assets/vendor/.
# A CMake script (embed_assets.cmake) writes ${TL_GEN_DIR}/web_assets.cc, one
# byte array per file with its content type and ETag; it runs again when any
# of the files changes, and the glob is re-evaluated on every build
# (CONFIGURE_DEPENDS), so a new file is picked up too.
set(TL_WEB_DIR ${CMAKE_SOURCE_DIR}/api/web)
set(TL_UPLOT_DIR ${TL_WEB_DIR}/node_modules/uplot/dist)
if(NOT EXISTS ${TL_UPLOT_DIR}/uPlot.esm.js OR NOT EXISTS ${TL_UPLOT_DIR}/uPlot.min.css)
  message(FATAL_ERROR
    "api/web/node_modules is missing (the pages' npm packages, from api/web/package-lock.json): "
    "run ops/install-deps.sh, or `npm ci --prefix api/web`, then configure again")
endif()
file(GLOB_RECURSE TL_WEB_STATIC CONFIGURE_DEPENDS LIST_DIRECTORIES false ${TL_WEB_DIR}/static/*)
list(SORT TL_WEB_STATIC)
# The manifest: one "<served path>|<file>" line per asset.
set(TL_WEB_MANIFEST "")
set(TL_WEB_INPUTS "")
foreach(f ${TL_WEB_STATIC})
  file(RELATIVE_PATH rel ${TL_WEB_DIR}/static ${f})
  string(APPEND TL_WEB_MANIFEST "${rel}|${f}\n")
  list(APPEND TL_WEB_INPUTS ${f})
endforeach()
string(APPEND TL_WEB_MANIFEST "vendor/uPlot.esm.js|${TL_UPLOT_DIR}/uPlot.esm.js\n")
string(APPEND TL_WEB_MANIFEST "vendor/uPlot.min.css|${TL_UPLOT_DIR}/uPlot.min.css\n")
list(APPEND TL_WEB_INPUTS ${TL_UPLOT_DIR}/uPlot.esm.js ${TL_UPLOT_DIR}/uPlot.min.css)
file(CONFIGURE OUTPUT ${TL_GEN_DIR}/web_assets.manifest CONTENT "${TL_WEB_MANIFEST}")
add_custom_command(
  OUTPUT ${TL_GEN_DIR}/web_assets.cc
  COMMAND ${CMAKE_COMMAND} -DMANIFEST=${TL_GEN_DIR}/web_assets.manifest
          -DOUTPUT=${TL_GEN_DIR}/web_assets.cc -P ${TL_WEB_DIR}/embed_assets.cmake
  DEPENDS ${TL_WEB_INPUTS} ${TL_GEN_DIR}/web_assets.manifest ${TL_WEB_DIR}/embed_assets.cmake
  COMMENT "Embedding the web pages' assets (api/web/static, uPlot)")
add_library(tl_web STATIC ${TL_GEN_DIR}/web_assets.cc api/web_assets.cc)
tl_layer(tl_web api/web_assets.h)
