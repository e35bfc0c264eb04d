// lzcache — what a CacheAccelerator result slot holds (accel_result_slot's KIND).
//
// RTL only (the host never sees slot kinds): named here so that the top that chooses each
// slot's kind and the slot that acts on it use the same names.

localparam SLOT_COMPRESS = 0;
localparam SLOT_DECOMPRESS = 1;
localparam SLOT_CHECKSUM = 2;
