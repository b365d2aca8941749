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
if(DOVETAIL_TESTS)
	dovetail_require(CMOCKA "cmocka" libcmocka-dev)
endif()
