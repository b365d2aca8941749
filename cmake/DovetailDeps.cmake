# Dependencies through pkg-config. A missing one stops the configure step and
# names the Debian package that provides it.
find_package(PkgConfig)
if(NOT PKG_CONFIG_FOUND)
	message(FATAL_ERROR "pkg-config not found: apt-get install pkg-config")
endif()

# dovetail_require(<prefix> <pkg-config module> <Debian package>)
function(dovetail_require prefix module debpkg)
	pkg_check_modules(${prefix} QUIET IMPORTED_TARGET GLOBAL ${module})
	if(NOT ${prefix}_FOUND)
		message(FATAL_ERROR
			"${module} not found (pkg-config): apt-get install ${debpkg}")
	endif()
	message(STATUS "Found ${module} ${${prefix}_VERSION}")
endfunction()

dovetail_require(OPENSSL "openssl>=3.0" libssl-dev)
dovetail_require(SQLITE "sqlite3" libsqlite3-dev)
dovetail_require(MARIADB "libmariadb" libmariadb-dev)
dovetail_require(LIBCRYPT "libxcrypt" libcrypt-dev)
dovetail_require(SODIUM "libsodium" libsodium-dev)
# libsasl2: the smtp client's SASL login to a relayhost (Cyrus SASL).
dovetail_require(SASL2 "libsasl2" libsasl2-dev)
# libunbound: its .pc file lists libevent as a private requirement, and
# Debian 12's libunbound-dev does not pull in libevent-dev, so pkg-config
# may fail although the header and library are there; then find them
# directly. Either way the target is PkgConfig::UNBOUND.
pkg_check_modules(UNBOUND QUIET IMPORTED_TARGET GLOBAL libunbound)
if(NOT UNBOUND_FOUND)
	find_path(UNBOUND_INCLUDE_DIR unbound.h)
	find_library(UNBOUND_LIBRARY unbound)
	if(NOT UNBOUND_INCLUDE_DIR OR NOT UNBOUND_LIBRARY)
		message(FATAL_ERROR
			"libunbound not found: apt-get install libunbound-dev")
	endif()
	add_library(PkgConfig::UNBOUND UNKNOWN IMPORTED GLOBAL)
	set_target_properties(PkgConfig::UNBOUND PROPERTIES
		IMPORTED_LOCATION "${UNBOUND_LIBRARY}"
		INTERFACE_INCLUDE_DIRECTORIES "${UNBOUND_INCLUDE_DIR}")
	message(STATUS "Found libunbound ${UNBOUND_LIBRARY}")
else()
	message(STATUS "Found libunbound ${UNBOUND_VERSION}")
endif()
if(DOVETAIL_TESTS)
	dovetail_require(CMOCKA "cmocka" libcmocka-dev)
endif()
