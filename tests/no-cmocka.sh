#!/bin/sh
# Stands in for the unit tests when configure found no cmocka, so that a
# missing test library fails the run instead of hiding tests.
echo "the unit tests need cmocka: apt-get install libcmocka-dev, then re-run configure" >&2
exit 1
