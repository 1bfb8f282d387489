/* fuzz_collapsed.c - libFuzzer target for the folded importer (round_trip.h says
 * what it checks). */
#include "round_trip.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return fuzz_round_trip("folded", data, size);
}
