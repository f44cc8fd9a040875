# CMake toolchain for 64-bit Windows with Debian's MinGW-w64, the CMake twin
# of mingw-w64-x86_64.txt; ctest runs the programs under wine:
#   cmake -S . -B build-cmake-win -G Ninja -DCMAKE_TOOLCHAIN_FILE=tests/cross/mingw-w64-x86_64.cmake
#   cmake --build build-cmake-win && (cd build-cmake-win && ctest)
# tests/cross/cmake_windows.sh does that in the windows lane.
set(CMAKE_SYSTEM_NAME Windows)
set(CMAKE_SYSTEM_PROCESSOR x86_64)
set(CMAKE_C_COMPILER x86_64-w64-mingw32-gcc)
set(CMAKE_CXX_COMPILER x86_64-w64-mingw32-g++)
set(CMAKE_RC_COMPILER x86_64-w64-mingw32-windres)
set(CMAKE_FIND_ROOT_PATH /usr/x86_64-w64-mingw32)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
# One self-contained .exe, as the meson cross file builds: no MinGW DLLs to find at run time.
set(CMAKE_EXE_LINKER_FLAGS_INIT -static)
set(CMAKE_CROSSCOMPILING_EMULATOR wine)
