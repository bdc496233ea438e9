# End-to-end tests of what ticketd serves to browsers: the pages and their
# embedded files (headers, ETag, Accept-Language), the session cookie, the
# development sign-in, the campaign list and the operator's overview.
tl_test(web_tests LABELS "api;web" LINK tl_api DEPENDS ticketd ticketctl
  SOURCES tests/e2e/web_test.cc)
