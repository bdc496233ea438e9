# The pages' tests in a real browser: every tests/browser/*_test.mjs is a
# ctest `browser.<name>` (label browser), run by Node against real ticketd
# processes the test starts, driving Debian's chromium through
# puppeteer-core (api/web/node_modules). They run one at a time (a resource
# lock): two chromiums on two cores slow each other past their timeouts.
# Nothing is skipped: without node, chromium or puppeteer-core the test is
# still registered, and fails saying what to install.
file(GLOB TL_BROWSER_TESTS CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/tests/browser/*_test.mjs)
list(SORT TL_BROWSER_TESTS)
find_program(TL_NODE node)
find_program(TL_CHROMIUM NAMES chromium PATHS /usr/bin NO_CACHE)
set(TL_BROWSER_MISSING "")
if(NOT TL_NODE)
  set(TL_BROWSER_MISSING "Node.js is not installed: run ops/install-deps.sh (Debian packages nodejs and npm)")
elseif(NOT TL_CHROMIUM)
  set(TL_BROWSER_MISSING "chromium is not installed: run ops/install-deps.sh (Debian package chromium)")
elseif(NOT EXISTS ${CMAKE_SOURCE_DIR}/api/web/node_modules/puppeteer-core/package.json)
  set(TL_BROWSER_MISSING "puppeteer-core is not installed: run ops/install-deps.sh (or npm ci --prefix api/web)")
endif()
foreach(test_file ${TL_BROWSER_TESTS})
  get_filename_component(name ${test_file} NAME)
  string(REGEX REPLACE "_test\\.mjs$" "" name ${name})
  if(TL_BROWSER_MISSING)
    add_test(NAME browser.${name}
      COMMAND sh -c "echo \"browser.${name}: ${TL_BROWSER_MISSING}, then configure again\" >&2; exit 1")
  else()
    add_test(NAME browser.${name}
      COMMAND ${TL_NODE} ${test_file} --ticketd $<TARGET_FILE:ticketd>
              --ticketctl $<TARGET_FILE:ticketctl> --out ${CMAKE_BINARY_DIR}/browser-out
      WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
  endif()
  set_tests_properties(browser.${name} PROPERTIES LABELS browser TIMEOUT 300
    RESOURCE_LOCK chromium)
endforeach()

# The pages' verifier modules under Node's own test runner (no browser): the
# receipt check (api/web/static/js/merkle.js) and the at-close key (draw.js)
# against the CT vectors and against receipts and draws made by the engine's
# code (tests/browser/unit/engine_vectors.cc, built here and run by the test).
add_executable(web_engine_vectors tests/browser/unit/engine_vectors.cc)
target_link_libraries(web_engine_vectors PRIVATE tl_core)
if(TL_NODE)
  add_test(NAME web.merkle
    COMMAND ${TL_NODE} --test ${CMAKE_SOURCE_DIR}/tests/browser/unit/merkle.test.mjs
    WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
  set_tests_properties(web.merkle PROPERTIES LABELS "web;unit" TIMEOUT 60
    ENVIRONMENT "TL_ENGINE_VECTORS=$<TARGET_FILE:web_engine_vectors>")
else()
  add_test(NAME web.merkle
    COMMAND sh -c "echo 'web.merkle: Node.js is not installed: run ops/install-deps.sh, then configure again' >&2; exit 1")
  set_tests_properties(web.merkle PROPERTIES LABELS "web;unit")
endif()

# The verifier's ledger check on issue 15's items (hand-written exports and
# tampered copies; no browser, no engine): api/web/static/js/ledger_check.js.
if(TL_NODE)
  add_test(NAME web.ledger_items
    COMMAND ${TL_NODE} --test ${CMAKE_SOURCE_DIR}/tests/browser/unit/ledger_items.test.mjs
    WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
  set_tests_properties(web.ledger_items PROPERTIES LABELS "web;unit" TIMEOUT 60)
else()
  add_test(NAME web.ledger_items
    COMMAND sh -c "echo 'web.ledger_items: Node.js is not installed: run ops/install-deps.sh, then configure again' >&2; exit 1")
  set_tests_properties(web.ledger_items PROPERTIES LABELS "web;unit")
endif()
