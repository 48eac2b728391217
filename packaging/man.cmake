# Makes the man pages (cmake -P, from packaging/package.cmake): sinch-logd.8
# as written, sinch-logd.conf.5 with its option list from the agent's own
# tables (sinch-logd --config-reference=man), the Debian changelog, and a
# gzip -9n copy of each for the package.
#   -DBIN=sinch-logd -DSRC=packaging -DOUT=dir -DVERSION=x.y.z -DRELEASE=n
cmake_minimum_required(VERSION 3.18)
execute_process(COMMAND ${BIN} --config-reference=man OUTPUT_VARIABLE options
                RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "${BIN} --config-reference=man failed: ${rc}")
endif()
file(MAKE_DIRECTORY ${OUT})
foreach(page sinch-logd.8 sinch-logd.conf.5.in debian/changelog)
  if(page STREQUAL "debian/changelog")
    set(in ${SRC}/debian/changelog)
    set(name changelog.Debian)
  else()
    set(in ${SRC}/man/${page})
    string(REGEX REPLACE "\\.in$" "" name ${page})
  endif()
  file(READ ${in} text)
  if(name STREQUAL "changelog.Debian")
    string(REPLACE "@VERSION@" "${VERSION}-${RELEASE}" text "${text}")
  endif()
  string(REPLACE "@VERSION@" "${VERSION}" text "${text}")
  string(REPLACE "@OPTIONS@\n" "${options}" text "${text}")
  file(WRITE ${OUT}/${name} "${text}")
  execute_process(COMMAND gzip -9nkf ${OUT}/${name} RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "gzip ${OUT}/${name} failed")
  endif()
endforeach()
