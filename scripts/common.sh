# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
# Sourced by build.sh, test.sh and demo.sh: the repository root and the
# build directory ($BUILD_DIR, default ./build), made absolute.
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build_dir=${BUILD_DIR:-build}
case $build_dir in
/*) ;;
*) build_dir=$root/$build_dir ;;
esac
