// lzcache — CacheAccelerator register map and job/result header layouts.
//
// The one definition shared by the RTL (included in cache_accelerator.v) and the host
// driver (host-driver/build.rs turns every `localparam` line below into a Rust constant).
// Keep each definition on one line: `localparam [W-1:0] NAME = W'hVALUE;` or `W'dVALUE`.

// Identification.
localparam [31:0] ACCEL_ID = 32'h4C5A4331;          // "LZC1"
localparam [31:0] ACCEL_VERSION = 32'h00030000;     // major.minor.patch as 8.8.16 bits

// AXI4-Lite registers (byte offsets, 32-bit registers).
localparam [11:0] REG_ID = 12'h000;                 // ACCEL_ID
localparam [11:0] REG_VERSION = 12'h004;            // ACCEL_VERSION
localparam [11:0] REG_CAPS = 12'h008;               // [7:0] compress engines, [15:8] decompress engines, [23:16] stream bytes per beat, [24] checksum unit
localparam [11:0] REG_HISTORY = 12'h00C;            // decompressor history / compressor window in bytes
localparam [11:0] REG_MAX_JOB = 12'h010;            // largest input and output of a job in bytes
localparam [11:0] REG_DICT_SIZE = 12'h014;          // largest preset dictionary of a decompress engine in bytes
localparam [11:0] REG_COMPRESS_DICT_SIZE = 12'h018; // largest preset dictionary of a compress engine in bytes
localparam [11:0] REG_CONTROL = 12'h020;            // [0] enable (reset value 1), [1] soft reset (write 1; self-clearing)
localparam [11:0] REG_STATUS = 12'h024;             // [0] enabled, [15:8] engines busy
localparam [11:0] REG_SCRATCH = 12'h028;            // read/write, for link tests
localparam [11:0] REG_JOBS_IN = 12'h040;            // job headers accepted
localparam [11:0] REG_JOBS_OUT = 12'h044;           // results sent
localparam [11:0] REG_BYTES_IN_LO = 12'h048;        // payload bytes received, low word
localparam [11:0] REG_BYTES_IN_HI = 12'h04C;        // high word
localparam [11:0] REG_BYTES_OUT_LO = 12'h050;       // payload bytes sent, low word
localparam [11:0] REG_BYTES_OUT_HI = 12'h054;       // high word
localparam [11:0] REG_ERR_OPCODE = 12'h060;         // jobs with an unknown opcode or bad magic
localparam [11:0] REG_ERR_LENGTH = 12'h064;         // jobs over the length limits
localparam [11:0] REG_ERR_MALFORMED = 12'h068;      // decompress jobs with a malformed block or another length
localparam [11:0] REG_ERR_CRC = 12'h06C;            // decompress jobs whose CRC differed from the expected one
localparam [11:0] REG_INCOMPRESSIBLE = 12'h070;     // compress jobs answered incompressible
localparam [11:0] REG_LAST_ERROR = 12'h074;         // [7:0] result status of the last failed job
localparam [11:0] REG_LAST_ERROR_TAG = 12'h078;     // its tag
localparam [11:0] REG_DICT_ID_BASE = 12'h080;       // decompress engine i's dictionary id at +4*i (0: none)
localparam [11:0] REG_COMPRESS_DICT_ID_BASE = 12'h0C0; // compress engine i's dictionary id at +4*i (0: none)

// Register fields (bit positions within their register).
localparam [31:0] CAPS_COMPRESS_LSB = 32'd0;          // REG_CAPS: 8 bits, compress engines
localparam [31:0] CAPS_DECOMPRESS_LSB = 32'd8;        // REG_CAPS: 8 bits, decompress engines
localparam [31:0] CAPS_BEAT_BYTES_LSB = 32'd16;       // REG_CAPS: 8 bits, stream bytes per beat
localparam [31:0] CAPS_CHECKSUM_BIT = 32'd24;         // REG_CAPS: a checksum unit is present
localparam [31:0] CAPS_DICT_BIT = 32'd25;             // REG_CAPS: decompress engines take a preset dictionary
localparam [31:0] CAPS_COMPRESS_DICT_BIT = 32'd26;    // REG_CAPS: compress engines take a preset dictionary
localparam [31:0] CONTROL_ENABLE_BIT = 32'd0;         // REG_CONTROL: accept jobs (reset value 1)
localparam [31:0] CONTROL_SOFT_RESET_BIT = 32'd1;     // REG_CONTROL: write 1 to reset the engines (self-clearing)
localparam [31:0] STATUS_ENABLED_BIT = 32'd0;         // REG_STATUS: accepting jobs
localparam [31:0] STATUS_BUSY_LSB = 32'd8;            // REG_STATUS: 8 bits, one per engine slot busy
localparam [31:0] LAST_ERROR_STATUS_LSB = 32'd0;      // REG_LAST_ERROR: 8 bits, result status

// Job header: the first 64-byte beat of each host-to-card frame; the payload follows from
// the next beat. Bit offsets within the beat (little-endian bytes).
localparam [15:0] JOB_MAGIC = 16'h4A4C;             // bits [15:0]
localparam [7:0] OP_COMPRESS = 8'd1;                // opcode, bits [23:16]
localparam [7:0] OP_DECOMPRESS = 8'd2;
localparam [7:0] OP_CHECKSUM = 8'd3;
localparam [7:0] OP_LOAD_DICT = 8'd4;               // the payload becomes one engine's dictionary
localparam [8:0] HDR_OPCODE_LSB = 9'd16;
localparam [8:0] HDR_TAG_LSB = 9'd32;               // 32 bits: returned in the result
localparam [8:0] HDR_INPUT_LEN_LSB = 9'd64;         // 32 bits: payload bytes
localparam [8:0] HDR_RAW_LEN_LSB = 9'd96;           // 32 bits: decompress: expected raw length
localparam [8:0] HDR_CRC_LSB = 9'd128;              // 64 bits: decompress: expected CRC-64/NVME
localparam [8:0] HDR_DICT_ID_LSB = 9'd192;          // 32 bits: compress, decompress: dictionary used (0: none); load: its id
localparam [8:0] HDR_ENGINE_LSB = 9'd224;           // 8 bits: load: which engine of its kind (0-based)
localparam [8:0] HDR_LOAD_COMPRESS_BIT = 9'd232;    // load: into a compress engine (else a decompress engine)

// Result header: the first 64-byte beat of each card-to-host frame; the output follows.
localparam [15:0] RESULT_MAGIC = 16'h524C;          // bits [15:0]
localparam [8:0] RES_OPCODE_LSB = 9'd16;            // 8 bits: the job's opcode
localparam [8:0] RES_STATUS_LSB = 9'd24;            // 8 bits: a RES_* status
localparam [8:0] RES_TAG_LSB = 9'd32;               // 32 bits: the job's tag
localparam [8:0] RES_OUTPUT_LEN_LSB = 9'd64;        // 32 bits: output bytes following
localparam [8:0] RES_CRC_LSB = 9'd96;               // 64 bits: CRC-64/NVME of the raw data
localparam [8:0] RES_CRC_VALID_BIT = 9'd160;        // decompress: CRC equals the expected one
localparam [8:0] RES_ENGINE_STATUS_LSB = 9'd168;    // 8 bits: the engine's own status code
localparam [8:0] RES_ENGINE_LSB = 9'd176;           // 8 bits: which engine ran the job

// Result statuses.
localparam [7:0] RES_OK = 8'd0;
localparam [7:0] RES_INCOMPRESSIBLE = 8'd1;         // compress: store the value raw (no output)
localparam [7:0] RES_MALFORMED = 8'd2;              // decompress: not a valid block
localparam [7:0] RES_LENGTH = 8'd3;                 // decompress: valid block of another length
localparam [7:0] RES_BAD_OPCODE = 8'd4;             // unknown opcode or bad magic
localparam [7:0] RES_TOO_LARGE = 8'd5;              // a length over REG_MAX_JOB
localparam [7:0] RES_NO_DICT = 8'd6;                // compress, decompress: no engine of the kind holds the named dictionary
localparam [7:0] RES_BAD_DICT = 8'd7;               // load: id 0, no such engine, or a length of 0, over REG_DICT_SIZE or not the payload's

// UDP link (boards behind Ethernet, udp_job_bridge.v): each datagram opens with six 32-bit
// little-endian words: [0] magic | kind << 16, [1] tag (register ops: a request id), [2] seq
// | data bytes << 16, [3] total frame bytes (register ops: the offset), [4] reply IPv4 address,
// [5] reply UDP port (requests; 0 in answers); data follows, padded to a 32-bit word.
localparam [15:0] UDP_MAGIC = 16'h554C;             // "LU"
localparam [7:0] UDP_KIND_JOB = 8'h01;              // a fragment of a job frame
localparam [7:0] UDP_KIND_REG_READ = 8'h02;         // read the register at word [3]
localparam [7:0] UDP_KIND_REG_WRITE = 8'h03;        // write the one data word to the register at word [3]
localparam [7:0] UDP_KIND_RESULT = 8'h81;           // a fragment of a result frame
localparam [7:0] UDP_KIND_REG_VALUE = 8'h82;        // a read's answer: the value as the data word
localparam [7:0] UDP_KIND_REG_DONE = 8'h83;         // a write's answer
localparam [15:0] UDP_HEADER_BYTES = 16'd24;
localparam [15:0] UDP_FRAGMENT_BYTES = 16'd1440;    // data bytes of every fragment but a frame's last
localparam [15:0] UDP_PORT = 16'd7440;              // the board's port (boards/*/liteeth.yml)
// The bridge's own counters, answered by the bridge (register offsets from 0x1000).
localparam [15:0] BRIDGE_REG_DATAGRAMS = 16'h1000;  // datagrams received
localparam [15:0] BRIDGE_REG_DROPPED = 16'h1004;    // datagrams dropped: bad magic or kind, out of order, duplicate, too long
localparam [15:0] BRIDGE_REG_ABANDONED = 16'h1008;  // partial jobs abandoned (a fragment lost, late or damaged)
localparam [15:0] BRIDGE_REG_JOBS = 16'h100C;       // jobs reassembled and passed to the accelerator
localparam [15:0] BRIDGE_REG_RESULTS = 16'h1010;    // results sent
