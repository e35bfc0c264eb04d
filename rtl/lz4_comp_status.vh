// lzcache — status codes of the LZ4 compressor, as reported in a job's completion.
// Included inside modules; host-driver reads the same names and values from this file.

localparam [3:0] LZ4C_OK = 4'd0;           // a valid block (see the incompressible flag)
localparam [3:0] LZ4C_ERR_LITERALS = 4'd1; // a literal run longer than the buffer: no block
