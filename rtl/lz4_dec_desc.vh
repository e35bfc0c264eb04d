// lzcache — descriptor kinds passed from lz4_dec_scanner to lz4_dec_checker.
// Included inside modules.

localparam [2:0] DESC_FAST = 3'd0;  // a whole sequence header at `at`: token, literals, offset
localparam [2:0] DESC_LIT = 3'd1;   // `count` literal bytes at `at` (a long literal run, or the last)
localparam [2:0] DESC_MATCH = 3'd2; // a match of `match_len` bytes `offset` back (no literals)
localparam [2:0] DESC_END = 3'd3;   // the block ended after its last literals
localparam [2:0] DESC_ERR = 3'd4;   // the input ended inside a sequence (LZ4_ERR_TRUNCATED)
