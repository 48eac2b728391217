# What `cmake --install` puts where, and the Debian package made from it by
# CPack (`cpack -G DEB` in the build directory, or the `package` target):
# the agent in /usr/bin, its configuration in /etc/sinch-logd (a conffile),
# the systemd unit, a logrotate snippet, the man pages, and the maintainer
# scripts of packaging/debian (system user, directories, the unit).
set(MAN_OUT ${CMAKE_BINARY_DIR}/man)
set(MAN_PAGES ${MAN_OUT}/sinch-logd.8 ${MAN_OUT}/sinch-logd.conf.5)
add_custom_command(
  OUTPUT ${MAN_PAGES} ${MAN_OUT}/sinch-logd.8.gz ${MAN_OUT}/sinch-logd.conf.5.gz
         ${MAN_OUT}/changelog.Debian.gz
  COMMAND ${CMAKE_COMMAND} -DBIN=$<TARGET_FILE:sinch-logd> -DSRC=${CMAKE_SOURCE_DIR}/packaging
          -DOUT=${MAN_OUT} -DVERSION=${PROJECT_VERSION} -DRELEASE=1 -P ${CMAKE_SOURCE_DIR}/packaging/man.cmake
  DEPENDS sinch-logd ${CMAKE_SOURCE_DIR}/packaging/man.cmake
          ${CMAKE_SOURCE_DIR}/packaging/man/sinch-logd.8
          ${CMAKE_SOURCE_DIR}/packaging/man/sinch-logd.conf.5.in
          ${CMAKE_SOURCE_DIR}/packaging/debian/changelog
  COMMENT "man pages")
add_custom_target(man ALL DEPENDS ${MAN_PAGES})

install(TARGETS sinch-logd RUNTIME DESTINATION bin)
install(FILES ${MAN_OUT}/sinch-logd.8.gz DESTINATION share/man/man8)
install(FILES ${MAN_OUT}/sinch-logd.conf.5.gz DESTINATION share/man/man5)
install(FILES ${CMAKE_SOURCE_DIR}/packaging/debian/copyright ${MAN_OUT}/changelog.Debian.gz
        DESTINATION share/doc/sinch-logd)
# The configuration is 0640 (root:sinch-logd after the postinst): it may hold
# secrets.
install(FILES ${CMAKE_SOURCE_DIR}/packaging/debian/lintian-overrides
        DESTINATION share/lintian/overrides RENAME sinch-logd)
file(GLOB EXAMPLE_CONFS ${CMAKE_SOURCE_DIR}/conf/*.conf)
install(FILES ${EXAMPLE_CONFS} DESTINATION share/doc/sinch-logd/examples)
# Absolute: these belong where the system looks for them, whatever the prefix.
install(FILES ${CMAKE_SOURCE_DIR}/conf/sinch-logd.conf DESTINATION /etc/sinch-logd
        PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ)
install(FILES ${CMAKE_SOURCE_DIR}/packaging/logrotate/sinch-logd DESTINATION /etc/logrotate.d)
install(FILES ${CMAKE_SOURCE_DIR}/packaging/systemd/sinch-logd.service
        DESTINATION /lib/systemd/system)

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME sinch-logd)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_DEBIAN_PACKAGE_RELEASE 1)
set(CPACK_PACKAGE_CONTACT "sinch-logd developers <sinch-logd@example.org>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "log forwarder for Sinch Functions")
string(CONCAT CPACK_PACKAGE_DESCRIPTION
       "sinch-logd tails the logs of functions deployed on Sinch Functions over\n"
       "Server-Sent Events, normalizes each event into a JSON record (redacting\n"
       "credentials) and delivers the records, acknowledged and checkpointed, to\n"
       "JSON-lines files, Kafka, syslog (RELP, TCP, TLS, UDP) and HTTP collectors\n"
       "(Splunk HEC, Elasticsearch, Loki, OTLP). It runs as a hardened systemd\n"
       "service and reloads its configuration on SIGHUP without losing records.")
set(CPACK_DEBIAN_PACKAGE_SECTION admin)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
# The libraries' Debian packages (libuv1, libcurl4, libcjson1, librdkafka1,
# zlib1g, libssl3, libc6) come from dpkg-shlibdeps; the maintainer scripts
# need adduser.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser")
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "logrotate")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${CMAKE_SOURCE_DIR}/packaging/debian/conffiles ${CMAKE_SOURCE_DIR}/packaging/debian/postinst
    ${CMAKE_SOURCE_DIR}/packaging/debian/prerm ${CMAKE_SOURCE_DIR}/packaging/debian/postrm)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
include(CPack)
