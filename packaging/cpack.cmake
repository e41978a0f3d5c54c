# The .deb: `cd build && cpack` writes build/switchyard_<version>_amd64.deb (docs/install.md).
# Depends: what dpkg-shlibdeps finds the binaries need, plus adduser (postinst).
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME switchyard)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
# Who answers for the package: set it when you build packages to distribute.
set(SY_PACKAGE_MAINTAINER "switchyard maintainers <switchyard@example.org>"
    CACHE STRING "Maintainer field of the .deb")
set(CPACK_PACKAGE_CONTACT "${SY_PACKAGE_MAINTAINER}")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
    "HTTP/1.1, HTTP/2, gRPC, WebSocket, SSE, pub/sub and AMQP 0-9-1 server")
# The extended description (CPack puts the summary first, indents, and makes "" a " ." line).
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION
    "switchyard serves HTTP/1.1, HTTP/2 (h2 and h2c), TLS, gRPC, WebSocket,
server-sent events and long polling on one port, with a pub/sub hub
shared by every protocol and an AMQP 0-9-1 broker with a durable store.

This package holds the server with a systemd unit, the sy-bench load
generator, the demo pages and the C++ library (static, with a CMake
package and switchyard.pc).")
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)  # switchyard_<version>_<arch>.deb
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${CMAKE_SOURCE_DIR}/packaging/postinst ${CMAKE_SOURCE_DIR}/packaging/prerm
    ${CMAKE_SOURCE_DIR}/packaging/postrm ${CMAKE_SOURCE_DIR}/packaging/conffiles)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
# /etc/switchyard and /lib/systemd are outside the prefix: install into the staging tree
# through DESTDIR (packaging/install-system-files.cmake picks the paths from the prefix).
set(CPACK_SET_DESTDIR ON)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
set(CPACK_PRE_BUILD_SCRIPTS ${CMAKE_SOURCE_DIR}/packaging/strip-static.cmake)
include(CPack)
