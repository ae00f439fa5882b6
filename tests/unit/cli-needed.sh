#!/bin/sh
# The ptenant CLI needs libjansson and libc only. It runs once per
# operator command and once per request of a script or a bench; every
# shared library more is loaded and relocated each time: with libsystemd
# (and its libgcrypt, liblzma, libzstd, liblz4) and libseccomp pulled in
# by the daemon's code, a call took 1.5 ms instead of 1.0 ms here.
#   cli-needed.sh PATH-TO-ptenant
cli=$1
# (A sanitizer build adds its runtimes: not counted.)
needed=$(readelf -d "$cli" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' |
  grep -Ev '^lib(asan|ubsan|lsan|tsan|stdc\+\+|m|gcc_s)\.so' | sort | tr '\n' ' ')
echo "1..1"
case $needed in
"libc.so.6 libjansson.so.4 ")
  echo "ok 1 - ptenant needs only libc and libjansson" ;;
*)
  echo "not ok 1 - ptenant needs $needed(want libc.so.6 libjansson.so.4: see the map of which object pulled the rest, -Wl,-Map)" ;;
esac
