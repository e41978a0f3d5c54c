# CPACK_PRE_BUILD_SCRIPTS: runs on the staged tree before the .deb is made. The static libraries
# carry the build's debug info (RelWithDebInfo, ~190 MB); the package ships them without it, as
# Debian's -dev packages do (CPACK_STRIP_FILES strips the executables only).
file(GLOB_RECURSE archives "${CPACK_TEMPORARY_INSTALL_DIRECTORY}/*.a")
foreach(a ${archives})
  execute_process(COMMAND strip --strip-debug --enable-deterministic-archives "${a}"
                  COMMAND_ERROR_IS_FATAL ANY)
endforeach()
