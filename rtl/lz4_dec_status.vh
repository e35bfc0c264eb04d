// lzcache — status codes of the LZ4 decompressor, as reported in a job's completion.
// Included inside modules; host-driver reads the same names and values from this file.

localparam [3:0] LZ4_OK = 4'd0;               // decoded exactly the expected raw length
localparam [3:0] LZ4_ERR_SHORT = 4'd1;        // valid block, fewer bytes than expected
localparam [3:0] LZ4_ERR_TRUNCATED = 4'd2;    // input ended inside a sequence or length
localparam [3:0] LZ4_ERR_OFFSET_ZERO = 4'd3;  // match offset 0
localparam [3:0] LZ4_ERR_OFFSET_RANGE = 4'd4; // match reaching before the start of output
localparam [3:0] LZ4_ERR_OVERRUN = 4'd5;      // literals or match past the expected length
localparam [3:0] LZ4_ERR_HISTORY = 4'd6;      // offset beyond this engine's history size
