/* fuzz_json.c - libFuzzer target for the JSON importer (round_trip.h says
 * what it checks). */
#include "round_trip.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return fuzz_round_trip("json", data, size);
}
