/* SPDX-License-Identifier: GPL-2.0 */
/* Forced into the unit tests by extract_seeds.sh (-include): every chain file
 * they parse goes through seed_shim.c, which saves it as a fuzzing seed. */
#define sfc_chain_spec__parse_string seed_parse_string
#define sfc_chain_spec__parse_file seed_parse_file
