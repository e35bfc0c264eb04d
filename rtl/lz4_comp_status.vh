// lzcache — status codes of the LZ4 compressor, as reported in a job's completion.
// Included inside modules; host-driver reads the same names and values from this file.

localparam [3:0] LZ4C_OK = 4'd0;           // a valid block (see the incompressible flag)
localparam [3:0] LZ4C_ERR_LITERALS = 4'd1; // a literal run longer than the buffer: no block
localparam [3:0] LZ4C_ERR_DICT_LENGTH = 4'd2; // dictionary load: empty or over DICT_SIZE (no dictionary held)

// Job fields on s_axis_tuser of a frame's first beat (bit positions; the decompressor's
// positions, so one job word serves both engines).
localparam [31:0] LZ4C_JOB_DICT_BIT = 32'd96;   // the value is compressed with the loaded dictionary
localparam [31:0] LZ4C_JOB_LOAD_BIT = 32'd97;   // the frame is a dictionary to load

// Completion fields on m_axis_tuser of the last output beat (bit positions).
localparam [31:0] LZ4C_DONE_CRC_LSB = 32'd0;              // 64 bits: CRC-64/NVME of the input
localparam [31:0] LZ4C_DONE_LENGTH_LSB = 32'd64;          // 32 bits: block length
localparam [31:0] LZ4C_DONE_STATUS_LSB = 32'd96;          // 4 bits: an LZ4C_* status above
localparam [31:0] LZ4C_DONE_INCOMPRESSIBLE_BIT = 32'd100; // no usable block, or not smaller than the input
