/* fuzz_pprof.c - libFuzzer target for the pprof importer (round_trip.h
 * says what it checks). */
#include "round_trip.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return fuzz_round_trip("pprof", data, size);
}
