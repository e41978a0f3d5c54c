# Runs at install time (cmake --install, make install, cpack), from cmake/install.cmake's
# install(CODE): writes what holds an absolute path, once the prefix is known.
#   prefix /usr (the .deb):  /etc/switchyard/switchyard.toml, /lib/systemd/system/..., /var/lib
#   any other prefix:        PREFIX/etc/switchyard/..., PREFIX/lib/systemd/system/..., PREFIX/var
# file(INSTALL) puts $ENV{DESTDIR} in front by itself (as install() does); MAKE_DIRECTORY does not.
# Inputs: SY_SOURCE_DIR, SY_BINARY_DIR, SY_LIBDIR, PROJECT_VERSION, SY_PC_LIBS,
# CMAKE_INSTALL_PREFIX, $ENV{DESTDIR}.
set(prefix "${CMAKE_INSTALL_PREFIX}")
string(REGEX REPLACE "/+$" "" prefix "${prefix}")
if(prefix STREQUAL "/usr")
  set(sy_etc "/etc/switchyard")
  set(sy_unit_dir "/lib/systemd/system")
  set(sy_state "/var/lib/switchyard")
else()
  set(sy_etc "${prefix}/etc/switchyard")
  set(sy_unit_dir "${prefix}/lib/systemd/system")
  set(sy_state "${prefix}/var/lib/switchyard")
endif()
set(sy_bin "${prefix}/bin/switchyard")
set(sy_www "${prefix}/share/switchyard/www")
set(sy_docdir "${prefix}/share/doc/switchyard")
set(dest "$ENV{DESTDIR}")
# Generated files go to a folder of their own per destination: a cpack and a
# `cmake --install --prefix` may run at once from one build tree (make test does).
string(MD5 sy_tag "${dest}|${prefix}")
set(gen "${SY_BINARY_DIR}/packaging/install-${sy_tag}")
file(MAKE_DIRECTORY "${gen}")

# The default config, pointed at the installed www/ and the store directory (the only lines
# that differ from config/switchyard.toml, which `make run` uses from a checkout).
file(READ "${SY_SOURCE_DIR}/config/switchyard.toml" toml)
string(REGEX REPLACE "# switchyard: the default configuration[^\n]*\n"
       "# switchyard: the installed configuration (${sy_etc}/switchyard.toml), read by\n# switchyard.service; check it with `switchyard --check-config ${sy_etc}/switchyard.toml`.\n# From a checkout, `make run` uses config/switchyard.toml: the same but for the two paths.\n"
       toml "${toml}")
string(REGEX REPLACE "\n# static_dir = [^\n]*\n" "\nstatic_dir = \"${sy_www}\"\n" toml "${toml}")
string(REPLACE "\n[amqp]\n" "\n[amqp]\nstore_dir = \"${sy_state}\"   # durable queues and messages\n"
       toml "${toml}")
if(NOT toml MATCHES "static_dir = \"${sy_www}\"" OR NOT toml MATCHES "store_dir = ")
  message(FATAL_ERROR "config/switchyard.toml changed shape: static_dir / [amqp] not found")
endif()
file(WRITE "${gen}/switchyard.toml" "${toml}")

configure_file("${SY_SOURCE_DIR}/packaging/switchyard.service.in"
               "${gen}/switchyard.service" @ONLY)
set(libdir "${prefix}/${SY_LIBDIR}")
configure_file("${SY_SOURCE_DIR}/packaging/switchyard.pc.in"
               "${gen}/switchyard.pc" @ONLY)

file(INSTALL DESTINATION "${sy_etc}" TYPE FILE
     FILES "${gen}/switchyard.toml")
file(INSTALL DESTINATION "${sy_unit_dir}" TYPE FILE
     FILES "${gen}/switchyard.service")
file(INSTALL DESTINATION "${libdir}/pkgconfig" TYPE FILE
     FILES "${gen}/switchyard.pc")
# Debian wants the changelog compressed with no timestamp (gzip -n).
execute_process(COMMAND gzip -9nc "${SY_SOURCE_DIR}/packaging/changelog"
                OUTPUT_FILE "${gen}/changelog.gz" COMMAND_ERROR_IS_FATAL ANY)
file(INSTALL DESTINATION "${sy_docdir}" TYPE FILE
     FILES "${gen}/changelog.gz")
foreach(page switchyard sy-bench)
  execute_process(COMMAND gzip -9nc "${SY_SOURCE_DIR}/packaging/${page}.1"
                  OUTPUT_FILE "${gen}/${page}.1.gz" COMMAND_ERROR_IS_FATAL ANY)
  file(INSTALL DESTINATION "${prefix}/share/man/man1" TYPE FILE
       FILES "${gen}/${page}.1.gz")
endforeach()
# The store directory: made here for a prefix install; the .deb's postinst makes it owned by
# the switchyard user (and the unit's StateDirectory= does as well).
if(NOT prefix STREQUAL "/usr")
  file(MAKE_DIRECTORY "${dest}${sy_state}")
endif()
file(REMOVE_RECURSE "${gen}")
