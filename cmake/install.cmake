# install() rules, the CMake package (find_package(switchyard CONFIG)), switchyard.pc and the
# .deb (CPack). docs/install.md is the user's page; docs/library.md the library user's.
#
#   cmake --install build --prefix /opt/sy    or    make install PREFIX=/opt/sy
#   cd build && cpack                          ->    build/switchyard_<version>_amd64.deb
#
# Paths outside the prefix: with the prefix /usr (the .deb) the config goes to
# /etc/switchyard, the unit to /lib/systemd/system and the AMQP store is /var/lib/switchyard;
# with any other prefix they stay under it (PREFIX/etc/switchyard, PREFIX/var/lib/switchyard).
# They are chosen at install time (packaging/install-system-files.cmake), so one build tree
# serves `cmake --install --prefix` and the .deb alike.
include(GNUInstallDirs)
# Libraries, the CMake package and switchyard.pc go to Debian's multiarch directory
# (lib/x86_64-linux-gnu) whatever the prefix, so the .deb (prefix /usr) and a prefix install
# have one layout; GNUInstallDirs picks it only for the prefix /usr at configure time.
if(CMAKE_LIBRARY_ARCHITECTURE AND CMAKE_INSTALL_LIBDIR STREQUAL "lib")
  set(CMAKE_INSTALL_LIBDIR "lib/${CMAKE_LIBRARY_ARCHITECTURE}" CACHE PATH
      "Object code libraries (multiarch)" FORCE)
endif()
include(CMakePackageConfigHelpers)

set(SY_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/switchyard)

# switchyard::switchyard: everything a server program links (tools/switchyard's set).
add_library(sy_switchyard INTERFACE)
target_link_libraries(sy_switchyard INTERFACE sy_server sy_server_amqp sy_server_grpc
                                              sy_server_management sy_server_webrtc)
set_target_properties(sy_switchyard PROPERTIES EXPORT_NAME switchyard)
add_library(switchyard::switchyard ALIAS sy_switchyard)

get_property(sy_libs GLOBAL PROPERTY SY_LIBRARIES)
install(TARGETS switchyard sy-bench RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(TARGETS ${sy_libs} sy_pb_health sy_pb_hub sy_switchyard
        EXPORT switchyard-targets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(DIRECTORY ${CMAKE_SOURCE_DIR}/include/switchyard
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
get_property(sy_gen_headers GLOBAL PROPERTY SY_GENERATED_HEADERS)
install(FILES ${sy_gen_headers} DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/switchyard/proto/amqp)
# The .proto files the exported services speak, for clients and for examples/grpc-todo.
install(DIRECTORY ${CMAKE_SOURCE_DIR}/proto/ DESTINATION ${CMAKE_INSTALL_DATADIR}/switchyard/proto
        FILES_MATCHING PATTERN "*.proto")
install(EXPORT switchyard-targets NAMESPACE switchyard:: DESTINATION ${SY_CMAKE_DIR})
configure_package_config_file(${CMAKE_SOURCE_DIR}/packaging/switchyard-config.cmake.in
                              ${CMAKE_BINARY_DIR}/packaging/switchyard-config.cmake
                              INSTALL_DESTINATION ${SY_CMAKE_DIR})
write_basic_package_version_file(${CMAKE_BINARY_DIR}/packaging/switchyard-config-version.cmake
                                 COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_BINARY_DIR}/packaging/switchyard-config.cmake
              ${CMAKE_BINARY_DIR}/packaging/switchyard-config-version.cmake
        DESTINATION ${SY_CMAKE_DIR})
# pkg-config: the same libraries, most dependent first (static archives link in that order).
set(SY_PC_LIBS "")
foreach(l sy_server_management sy_server_grpc sy_server_webrtc sy_server_amqp sy_server
          sy_backplane sy_session_amqp sy_session_stun sy_store sy_server_config sy_session
          sy_auth sy_rpc sy_pb_hub sy_pb_health sy_http sy_hub sy_proto_amqp sy_proto_grpc
          sy_proto_http1 sy_proto_http2 sy_proto_http3 sy_proto_resp sy_proto_sse sy_proto_stun
          sy_proto_ws sy_net sy_core sy_base)
  string(APPEND SY_PC_LIBS " -l${l}")
endforeach()

# The web assets and the docs.
install(DIRECTORY ${CMAKE_SOURCE_DIR}/www/ DESTINATION ${CMAKE_INSTALL_DATADIR}/switchyard/www)
# @switchyard/client, which the pages load from /lib/switchyard-client/ (the client_dir setting;
# the server finds it here, beside www/).
install(FILES ${CMAKE_SOURCE_DIR}/clients/js/src/index.js ${CMAKE_SOURCE_DIR}/clients/js/src/index.d.ts
        DESTINATION ${CMAKE_INSTALL_DATADIR}/switchyard/client)
install(DIRECTORY ${CMAKE_SOURCE_DIR}/docs/ DESTINATION ${CMAKE_INSTALL_DOCDIR})
install(FILES ${CMAKE_SOURCE_DIR}/README.md DESTINATION ${CMAKE_INSTALL_DOCDIR})
install(FILES ${CMAKE_SOURCE_DIR}/packaging/copyright DESTINATION ${CMAKE_INSTALL_DOCDIR})

# switchyard.pc, the config, the unit and the store directory: paths decided at install time.
install(CODE "set(SY_SOURCE_DIR \"${CMAKE_SOURCE_DIR}\")
set(SY_BINARY_DIR \"${CMAKE_BINARY_DIR}\")
set(SY_LIBDIR \"${CMAKE_INSTALL_LIBDIR}\")
set(PROJECT_VERSION \"${PROJECT_VERSION}\")
set(SY_PC_LIBS \"${SY_PC_LIBS}\")
include(\"${CMAKE_SOURCE_DIR}/packaging/install-system-files.cmake\")")

include(${CMAKE_SOURCE_DIR}/packaging/cpack.cmake)
