#!/bin/sh
# check_soname.sh READELF_OR_OBJDUMP LIBRARY EXPECTED
# The shared library's DT_SONAME is EXPECTED (libvqround.so.0): what programs record at link time
# and what the dynamic loader looks for. Uses readelf -d, or objdump -p if given objdump.
set -u
if [ $# -ne 3 ]; then
  echo "usage: $0 READELF_OR_OBJDUMP LIBRARY EXPECTED" >&2
  exit 2
fi
tool=$1
lib=$2
expected=$3
case $(basename "$tool") in
  *objdump*) soname=$("$tool" -p "$lib" | awk '$1 == "SONAME" { print $2 }') ;;
  *) soname=$("$tool" -d "$lib" | sed -n 's/.*(SONAME).*\[\(.*\)\].*/\1/p') ;;
esac
if [ "$soname" != "$expected" ]; then
  echo "FAIL: SONAME of $lib is '${soname:-<none>}', expected '$expected'" >&2
  exit 1
fi
echo "OK: SONAME $soname"
