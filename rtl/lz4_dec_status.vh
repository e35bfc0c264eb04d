// lzcache — status codes of the LZ4 decompressor, as reported in a job's completion.
// Included inside modules; host-driver reads the same names and values from this file.

localparam [3:0] LZ4_OK = 4'd0;               // decoded exactly the expected raw length
localparam [3:0] LZ4_ERR_SHORT = 4'd1;        // valid block, fewer bytes than expected
localparam [3:0] LZ4_ERR_TRUNCATED = 4'd2;    // input ended inside a sequence or length
localparam [3:0] LZ4_ERR_OFFSET_ZERO = 4'd3;  // match offset 0
localparam [3:0] LZ4_ERR_OFFSET_RANGE = 4'd4; // match reaching before the start of output
localparam [3:0] LZ4_ERR_OVERRUN = 4'd5;      // literals or match past the expected length
localparam [3:0] LZ4_ERR_HISTORY = 4'd6;      // offset beyond this engine's history size
localparam [3:0] LZ4_ERR_DICT_LENGTH = 4'd7;  // dictionary load: length 0, over DICT_SIZE, or not the declared one

// Job fields on s_axis_tuser of a frame's first beat (bit positions). A block job carries
// its expected CRC and raw length; a dictionary load carries the dictionary's length in the
// raw-length field and its bytes as the frame.
localparam [31:0] LZ4_JOB_CRC_LSB = 32'd0;         // 64 bits: expected CRC-64/NVME of the raw bytes
localparam [31:0] LZ4_JOB_LENGTH_LSB = 32'd64;     // 32 bits: expected raw length / dictionary length
localparam [31:0] LZ4_JOB_DICT_BIT = 32'd96;       // block job: matches may reach into the loaded dictionary
localparam [31:0] LZ4_JOB_LOAD_BIT = 32'd97;       // the frame is a dictionary to load

// Completion fields on m_axis_tuser of the last output beat (bit positions).
localparam [31:0] LZ4_DONE_CRC_LSB = 32'd0;        // 64 bits: CRC-64/NVME of the bytes produced
localparam [31:0] LZ4_DONE_LENGTH_LSB = 32'd64;    // 32 bits: bytes produced
localparam [31:0] LZ4_DONE_STATUS_LSB = 32'd96;    // 4 bits: an LZ4_* status above
localparam [31:0] LZ4_DONE_CRC_VALID_BIT = 32'd100; // status ok and the CRC equals the expected one
