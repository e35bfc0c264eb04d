/*
 * lzcache — CacheAccelerator: the device a card carries
 *
 * Jobs in on a host-to-card AXI-Stream, results out on a card-to-host AXI-Stream (the
 * streaming interfaces of a Xilinx XDMA design), control and counters on AXI4-Lite.
 */

`resetall
`timescale 1ns / 1ps
`default_nettype none

// CacheAccelerator top: a dispatcher, N_COMPRESS lz4_compress engines, N_DECOMPRESS
// lz4_decompress engines, a checksum unit, a result buffer per engine, the result sender
// (accel_result_sender), the counters (accel_counters) and the register block (accel_regs). Layouts and register map:
// cache_accelerator_defs.vh.
//
// A job is one host-to-card frame: a 64-byte header (one beat at 512 bits, 512/DATA_WIDTH
// beats on a narrower stream), then the payload from the next beat. The
// dispatcher checks the header, picks a free engine of the job's kind (waiting while all are
// busy), and streams the payload to it. A job with a bad magic or opcode, or lengths over
// MAX_JOB_BYTES, gets an error result and its payload is discarded. Every job gets exactly one
// result, carrying its tag: a result is one card-to-host frame, a header beat followed by the
// output (none for a checksum, an error, or an incompressible value).
//
// Why results are buffered: the result header holds the output length, CRC and status, which
// are known only when the engine has finished; each engine therefore writes its output into
// its own buffer of MAX_JOB_BYTES, and the sender streams header and output once complete.
// Results leave in completion order, not submission order: the host matches them by tag.
//
// Preset dictionaries: each engine holds one (lz4_decompress, lz4_compress). A load job
// (OP_LOAD_DICT) names the engine (its kind by HDR_LOAD_COMPRESS_BIT) and the id the dictionary
// gets; the host loads every engine it wants to use. A compress or decompress job naming a
// dictionary id runs only on an engine of its kind holding it (waiting while those are busy)
// and is answered RES_NO_DICT at once when none does. An engine's id is set when its load is
// dispatched and cleared if the load fails. A compress engine may hold a shorter dictionary
// than a decompress engine (COMPRESS_DICT_SIZE): the host loads the tail of a longer one, and
// the blocks made with it are blocks of the whole dictionary (its tail is what precedes the
// value either way).
module cache_accelerator #
(
    // Width of the streams in bits (XDMA streaming: 512; 64..512 dividing 512: a narrower
    // stream carries each 64-byte header over 512/DATA_WIDTH beats)
    parameter DATA_WIDTH = 512,
    // Width of tkeep
    parameter KEEP_WIDTH = DATA_WIDTH/8,
    // Number of compress engines (at least 1; at most 7 engines in all)
    parameter N_COMPRESS = 2,
    // Number of decompress engines (at least 1)
    parameter N_DECOMPRESS = 2,
    // Largest job input and output in bytes (a power of two; sets each result buffer)
    parameter MAX_JOB_BYTES = 1048576,
    // Decompressor history and compressor window in bytes
    parameter HISTORY_SIZE = 65536,
    // log2 of the compressor's hash table entries
    parameter HASH_BITS = 12,
    // Compressor window and longest literal run in bytes (powers of two; a small FPGA
    // trades ratio for block RAM here)
    parameter COMPRESS_WINDOW = HISTORY_SIZE,
    parameter COMPRESS_LITERALS = HISTORY_SIZE,
    // Largest preset dictionary of a decompress engine in bytes (a power of two, 128..65536)
    parameter DICT_SIZE = 65536,
    // Largest preset dictionary of a compress engine in bytes (a power of two, 256..65536;
    // matches reach into it as far as the compressor window's offsets do)
    parameter COMPRESS_DICT_SIZE = DICT_SIZE
)
(
    input  wire                  clk,
    input  wire                  rst,

    /*
     * Host to card: jobs
     */
    input  wire [DATA_WIDTH-1:0] s_axis_tdata,
    input  wire [KEEP_WIDTH-1:0] s_axis_tkeep,
    input  wire                  s_axis_tvalid,
    output wire                  s_axis_tready,
    input  wire                  s_axis_tlast,

    /*
     * Card to host: results
     */
    output wire [DATA_WIDTH-1:0] m_axis_tdata,
    output wire [KEEP_WIDTH-1:0] m_axis_tkeep,
    output wire                  m_axis_tvalid,
    input  wire                  m_axis_tready,
    output wire                  m_axis_tlast,

    /*
     * AXI4-Lite registers
     */
    input  wire [11:0]           s_axil_awaddr,
    input  wire [2:0]            s_axil_awprot,
    input  wire                  s_axil_awvalid,
    output wire                  s_axil_awready,
    input  wire [31:0]           s_axil_wdata,
    input  wire [3:0]            s_axil_wstrb,
    input  wire                  s_axil_wvalid,
    output wire                  s_axil_wready,
    output wire [1:0]            s_axil_bresp,
    output wire                  s_axil_bvalid,
    input  wire                  s_axil_bready,
    input  wire [11:0]           s_axil_araddr,
    input  wire [2:0]            s_axil_arprot,
    input  wire                  s_axil_arvalid,
    output wire                  s_axil_arready,
    output wire [31:0]           s_axil_rdata,
    output wire [1:0]            s_axil_rresp,
    output wire                  s_axil_rvalid,
    input  wire                  s_axil_rready
);

/* verilator lint_off UNUSEDPARAM */
`include "cache_accelerator_defs.vh"
`include "lz4_dec_status.vh"
`include "lz4_comp_status.vh"
/* verilator lint_on UNUSEDPARAM */

localparam N_ENGINES = N_COMPRESS + N_DECOMPRESS;
// Result slots: the engines, then the checksum unit.
localparam N_SLOTS = N_ENGINES + 1;
localparam CHECKSUM_SLOT = N_ENGINES;
// Result sources: the slots, then the error path.
localparam N_SOURCES = N_SLOTS + 1;
localparam ERROR_SOURCE = N_SLOTS;
localparam SOURCE_WIDTH = $clog2(N_SOURCES);
localparam WORDS = MAX_JOB_BYTES / KEEP_WIDTH;
localparam WORD_WIDTH = $clog2(WORDS);
localparam [31:0] MAX_JOB = MAX_JOB_BYTES;
localparam [7:0] COMPRESS_COUNT = N_COMPRESS;
localparam [7:0] DECOMPRESS_COUNT = N_DECOMPRESS;
// Beats of a 64-byte job or result header.
localparam HEADER_BITS = 512;
localparam HEADER_BEATS = HEADER_BITS / DATA_WIDTH;
localparam HEADER_COUNT_WIDTH = HEADER_BEATS > 1 ? $clog2(HEADER_BEATS) : 1;

initial begin
    if (DATA_WIDTH < 64 || DATA_WIDTH > HEADER_BITS || HEADER_BITS % DATA_WIDTH != 0) begin
        $error("Error: DATA_WIDTH must be 64..512 and divide 512, the header's bits (instance %m)");
        $finish;
    end
    if (N_COMPRESS < 1 || N_DECOMPRESS < 1 || N_ENGINES > 7) begin
        $error("Error: at least one engine of each kind, at most 7 in all (instance %m)");
        $finish;
    end
    if ((1 << WORD_WIDTH) != WORDS || MAX_JOB_BYTES < 2 * KEEP_WIDTH) begin
        $error("Error: MAX_JOB_BYTES must be a power of two (instance %m)");
        $finish;
    end
    // The result capture reads a load's status from either engine at one place.
    if (LZ4C_DONE_STATUS_LSB != LZ4_DONE_STATUS_LSB || LZ4C_OK != LZ4_OK) begin
        $error("Error: the engines' completion status fields differ (instance %m)");
        $finish;
    end
end

/*
 * Control, from the register block: jobs are taken only while enabled; a soft reset clears
 * the dispatcher, the engines, the result slots and the counters.
 */

wire        enable;
wire        soft_reset;
wire        core_rst = rst || soft_reset;

/*
 * Job input register: s_axis_tready comes from a flip-flop, not from an engine's ready
 * through the dispatcher.
 */

wire [DATA_WIDTH-1:0] job_tdata;
wire [KEEP_WIDTH-1:0] job_tkeep;
wire                  job_tvalid;
wire                  job_tready;
wire                  job_tlast;

axis_skid_buffer #(
    .WIDTH(DATA_WIDTH + KEEP_WIDTH + 1)
)
job_register (
    .clk(clk),
    .rst(rst),
    .s_payload({s_axis_tdata, s_axis_tkeep, s_axis_tlast}),
    .s_valid(s_axis_tvalid),
    .s_ready(s_axis_tready),
    .m_payload({job_tdata, job_tkeep, job_tlast}),
    .m_valid(job_tvalid),
    .m_ready(job_tready)
);

/*
 * Dispatcher
 */

localparam [2:0]
    DISPATCH_HEADER = 3'd0,
    DISPATCH_PAYLOAD = 3'd1,
    DISPATCH_EMPTY = 3'd2,
    DISPATCH_DRAIN = 3'd3;

// The header as the dispatcher sees it: the job beat itself at 512 bits; on a narrower
// stream, a register the header's beats are gathered into (header_gathered once all are in,
// or the frame ended early: the missing bytes read as zero), then checked into registers in
// one more cycle (header_valid).
wire [HEADER_BITS-1:0] header_data;
wire                   header_gathered;
wire                   header_valid;
wire                   header_last;
reg                    header_take;
reg                    header_gather;

generate
    if (HEADER_BEATS == 1) begin : header_beat
        assign header_data = job_tdata;
        assign header_gathered = job_tvalid;
        assign header_last = job_tlast;
        wire unused_header = &{1'b0, header_gather, header_take};
    end else begin : header_gather_register
        reg [HEADER_BITS-1:0]      data_reg = {HEADER_BITS{1'b0}};
        reg [HEADER_COUNT_WIDTH:0] count_reg = {(HEADER_COUNT_WIDTH+1){1'b0}};
        reg                        last_reg = 1'b0;

        assign header_data = data_reg;
        assign header_gathered = count_reg == HEADER_BEATS[HEADER_COUNT_WIDTH:0];
        assign header_last = last_reg;

        always @(posedge clk) begin
            if (header_gather) begin
                data_reg[count_reg[HEADER_COUNT_WIDTH-1:0]*DATA_WIDTH +: DATA_WIDTH] <= job_tdata;
                count_reg <= job_tlast ? HEADER_BEATS[HEADER_COUNT_WIDTH:0] : count_reg + 1'b1;
                last_reg <= job_tlast;
            end
            if (header_take) begin
                data_reg <= {HEADER_BITS{1'b0}};
                count_reg <= {(HEADER_COUNT_WIDTH+1){1'b0}};
                last_reg <= 1'b0;
            end
            if (core_rst) begin
                data_reg <= {HEADER_BITS{1'b0}};
                count_reg <= {(HEADER_COUNT_WIDTH+1){1'b0}};
                last_reg <= 1'b0;
            end
        end
    end
endgenerate

wire [15:0] hdr_magic = header_data[15:0];
wire [7:0]  hdr_opcode = header_data[HDR_OPCODE_LSB +: 8];
wire [31:0] hdr_tag = header_data[HDR_TAG_LSB +: 32];
wire [31:0] hdr_input_len = header_data[HDR_INPUT_LEN_LSB +: 32];
wire [31:0] hdr_raw_len = header_data[HDR_RAW_LEN_LSB +: 32];
wire [63:0] hdr_crc = header_data[HDR_CRC_LSB +: 64];
wire [31:0] hdr_dict_id = header_data[HDR_DICT_ID_LSB +: 32];
wire [7:0]  hdr_engine = header_data[HDR_ENGINE_LSB +: 8];
wire        hdr_load_compress_now = header_data[HDR_LOAD_COMPRESS_BIT];
// The rest of the header is reserved.
wire unused_header_bits = &{1'b0, header_data[HEADER_BITS-1:HDR_LOAD_COMPRESS_BIT+1],
    header_data[31:24]};

// The header's own checks (they depend on nothing but the header).
wire hdr_known_now = hdr_magic == JOB_MAGIC
    && (hdr_opcode == OP_COMPRESS || hdr_opcode == OP_DECOMPRESS || hdr_opcode == OP_CHECKSUM
        || hdr_opcode == OP_LOAD_DICT);
wire hdr_too_large_now = hdr_input_len > MAX_JOB
    || (hdr_opcode == OP_DECOMPRESS && hdr_raw_len > MAX_JOB);
wire hdr_is_load_now = hdr_opcode == OP_LOAD_DICT;
wire hdr_uses_dict_now = (hdr_opcode == OP_DECOMPRESS || hdr_opcode == OP_COMPRESS)
    && hdr_dict_id != 32'd0;
// A load naming no engine or id 0 is refused at once (the engine checks the length).
wire hdr_bad_load_now = hdr_is_load_now && (hdr_dict_id == 32'd0
    || hdr_engine >= (hdr_load_compress_now ? COMPRESS_COUNT : DECOMPRESS_COUNT));

wire hdr_known;
wire hdr_too_large;
wire hdr_is_load;
wire hdr_uses_dict;
wire hdr_bad_load;
wire hdr_load_compress;

generate
    if (HEADER_BEATS == 1) begin : header_checks_now
        assign header_valid = header_gathered;
        assign {hdr_known, hdr_too_large, hdr_is_load, hdr_uses_dict, hdr_bad_load,
            hdr_load_compress} = {hdr_known_now, hdr_too_large_now, hdr_is_load_now,
                hdr_uses_dict_now, hdr_bad_load_now, hdr_load_compress_now};
    end else begin : header_checks_register
        // A gathered header waits one cycle while its checks (32-bit length compares among
        // them) go into registers: the dispatcher's decision, and the clearing of the gather
        // register it makes, then start from flip-flops — on the board's 64-bit stream this
        // was the 100 MHz clock's critical path. One cycle per job, beside eight header beats.
        reg       checked_reg = 1'b0;
        reg [5:0] checks_reg = 6'd0;

        assign header_valid = header_gathered && checked_reg;
        assign {hdr_known, hdr_too_large, hdr_is_load, hdr_uses_dict, hdr_bad_load,
            hdr_load_compress} = checks_reg;

        always @(posedge clk) begin
            checks_reg <= {hdr_known_now, hdr_too_large_now, hdr_is_load_now,
                hdr_uses_dict_now, hdr_bad_load_now, hdr_load_compress_now};
            checked_reg <= header_gathered && !header_take;
            if (core_rst) begin
                checked_reg <= 1'b0;
            end
        end
    end
endgenerate

reg  [N_SLOTS-1:0] slot_busy_reg = {N_SLOTS{1'b0}};
reg  [N_SLOTS-1:0] slot_done_reg = {N_SLOTS{1'b0}};
// Per engine slot: the id of the dictionary it holds (0: none); per slot: running a load.
reg  [N_SLOTS*32-1:0] slot_dict_id_reg = {N_SLOTS*32{1'b0}};
reg  [N_SLOTS-1:0]    slot_load_reg = {N_SLOTS{1'b0}};

// The first free slot that can run the header's job, and whether any engine (free or not)
// holds the dictionary it names.
reg                    target_found;
reg  [SOURCE_WIDTH-1:0] target;
reg                    dict_held;
integer t;
always @* begin
    target_found = 1'b0;
    target = {SOURCE_WIDTH{1'b0}};
    dict_held = 1'b0;
    for (t = N_SLOTS - 1; t >= 0; t = t - 1) begin
        if (slot_dict_id_reg[t*32 +: 32] == hdr_dict_id
                && ((t < N_COMPRESS && hdr_opcode == OP_COMPRESS)
                    || (t >= N_COMPRESS && t < N_ENGINES && hdr_opcode == OP_DECOMPRESS))) begin
            dict_held = 1'b1;
        end
        if (!slot_busy_reg[t]
                && ((t < N_COMPRESS && hdr_opcode == OP_COMPRESS
                        && (!hdr_uses_dict || slot_dict_id_reg[t*32 +: 32] == hdr_dict_id))
                    || (t >= N_COMPRESS && t < N_ENGINES && hdr_opcode == OP_DECOMPRESS
                        && (!hdr_uses_dict || slot_dict_id_reg[t*32 +: 32] == hdr_dict_id))
                    || (t < N_COMPRESS && hdr_is_load && hdr_load_compress
                        && t == {24'd0, hdr_engine})
                    || (t >= N_COMPRESS && t < N_ENGINES && hdr_is_load && !hdr_load_compress
                        && t - N_COMPRESS == {24'd0, hdr_engine})
                    || (t == CHECKSUM_SLOT && hdr_opcode == OP_CHECKSUM))) begin
            target_found = 1'b1;
            target = t[SOURCE_WIDTH-1:0];
        end
    end
end

reg  [2:0]              dispatch_state_reg = DISPATCH_HEADER, dispatch_state_next;
reg  [SOURCE_WIDTH-1:0] route_reg = {SOURCE_WIDTH{1'b0}}, route_next;
reg  [97:0]             route_user_reg = 98'd0, route_user_next;
reg                     route_first_reg = 1'b0, route_first_next;

reg                     error_pending_reg = 1'b0;
reg  [7:0]              error_status_reg = 8'd0;
reg  [7:0]              error_opcode_reg = 8'd0;
reg  [31:0]             error_tag_reg = 32'd0;

reg  [N_SLOTS*32-1:0]   slot_tag_reg = {N_SLOTS*32{1'b0}};

reg                     accept_header;
reg                     accept_error;
reg  [7:0]              accept_error_status;
reg                     s_ready;

wire [N_SLOTS-1:0]      engine_in_ready;
reg  [N_SLOTS-1:0]      engine_in_valid;
reg  [KEEP_WIDTH-1:0]   engine_in_keep;
reg                     engine_in_last;

assign job_tready = s_ready;

always @* begin
    dispatch_state_next = dispatch_state_reg;
    route_next = route_reg;
    route_user_next = route_user_reg;
    route_first_next = route_first_reg;
    accept_header = 1'b0;
    header_take = 1'b0;
    header_gather = 1'b0;
    accept_error = 1'b0;
    accept_error_status = RES_OK;
    s_ready = 1'b0;
    engine_in_valid = {N_SLOTS{1'b0}};
    engine_in_keep = job_tkeep;
    engine_in_last = job_tlast;

    case (dispatch_state_reg)
        DISPATCH_HEADER: begin
            if (HEADER_BEATS > 1 && !header_gathered) begin
                // Gather the header's beats.
                s_ready = 1'b1;
                header_gather = job_tvalid;
            end else if (header_valid && enable) begin
                if (!hdr_known || hdr_too_large || hdr_bad_load || (hdr_uses_dict && !dict_held)) begin
                    if (!error_pending_reg) begin
                        s_ready = HEADER_BEATS == 1;
                        header_take = 1'b1;
                        accept_error = 1'b1;
                        accept_error_status = !hdr_known ? RES_BAD_OPCODE
                            : hdr_too_large ? RES_TOO_LARGE
                            : hdr_bad_load ? RES_BAD_DICT : RES_NO_DICT;
                        dispatch_state_next = header_last ? DISPATCH_HEADER : DISPATCH_DRAIN;
                    end
                end else if (target_found) begin
                    s_ready = HEADER_BEATS == 1;
                    header_take = 1'b1;
                    accept_header = 1'b1;
                    route_next = target;
                    // lz4_decompress's job fields (lz4_dec_status.vh; lz4_compress reads the
                    // same two flag bits); a load declares the payload's length as the
                    // dictionary's.
                    route_user_next = {hdr_is_load, hdr_uses_dict,
                        hdr_is_load ? hdr_input_len : hdr_raw_len, hdr_crc};
                    route_first_next = 1'b1;
                    dispatch_state_next = header_last ? DISPATCH_EMPTY : DISPATCH_PAYLOAD;
                end
            end
        end
        DISPATCH_PAYLOAD: begin
            engine_in_valid[route_reg] = job_tvalid;
            s_ready = engine_in_ready[route_reg];
            if (job_tvalid && s_ready) begin
                route_first_next = 1'b0;
                if (job_tlast) begin
                    dispatch_state_next = DISPATCH_HEADER;
                end
            end
        end
        DISPATCH_EMPTY: begin
            // A job without payload: the engine still gets its (empty) frame.
            engine_in_valid[route_reg] = 1'b1;
            engine_in_keep = {KEEP_WIDTH{1'b0}};
            engine_in_last = 1'b1;
            if (engine_in_ready[route_reg]) begin
                dispatch_state_next = DISPATCH_HEADER;
            end
        end
        DISPATCH_DRAIN: begin
            s_ready = 1'b1;
            if (job_tvalid && job_tlast) begin
                dispatch_state_next = DISPATCH_HEADER;
            end
        end
        default: begin
            dispatch_state_next = DISPATCH_HEADER;
        end
    endcase
end

// Job parameters ride on tuser of the engine's first beat.
wire [127:0] engine_in_user = route_first_reg ? {30'd0, route_user_reg} : 128'd0;

/*
 * Engines and their result capture
 */

wire [N_SLOTS*DATA_WIDTH-1:0] engine_out_data;
wire [N_SLOTS*KEEP_WIDTH-1:0] engine_out_keep;
wire [N_SLOTS-1:0]            engine_out_valid;
wire [N_SLOTS-1:0]            engine_out_last;
wire [N_SLOTS*128-1:0]        engine_out_user;

genvar e;
generate
    for (e = 0; e < N_COMPRESS; e = e + 1) begin : compressor
        lz4_compress #(
            .DATA_WIDTH(DATA_WIDTH),
            .HASH_BITS(HASH_BITS),
            .WINDOW_SIZE(COMPRESS_WINDOW),
            .LIT_BUFFER(COMPRESS_LITERALS),
            .DICT_SIZE(COMPRESS_DICT_SIZE)
        )
        engine (
            .clk(clk),
            .rst(core_rst),
            .s_axis_tdata(job_tdata),
            .s_axis_tkeep(engine_in_keep),
            .s_axis_tvalid(engine_in_valid[e]),
            .s_axis_tready(engine_in_ready[e]),
            .s_axis_tlast(engine_in_last),
            .s_axis_tuser(engine_in_user),
            .m_axis_tdata(engine_out_data[e*DATA_WIDTH +: DATA_WIDTH]),
            .m_axis_tkeep(engine_out_keep[e*KEEP_WIDTH +: KEEP_WIDTH]),
            .m_axis_tvalid(engine_out_valid[e]),
            .m_axis_tready(1'b1),
            .m_axis_tlast(engine_out_last[e]),
            .m_axis_tuser(engine_out_user[e*128 +: 128])
        );
    end
    for (e = N_COMPRESS; e < N_ENGINES; e = e + 1) begin : decompressor
        lz4_decompress #(
            .DATA_WIDTH(DATA_WIDTH),
            .HISTORY_SIZE(HISTORY_SIZE),
            .DICT_SIZE(DICT_SIZE)
        )
        engine (
            .clk(clk),
            .rst(core_rst),
            .s_axis_tdata(job_tdata),
            .s_axis_tkeep(engine_in_keep),
            .s_axis_tvalid(engine_in_valid[e]),
            .s_axis_tready(engine_in_ready[e]),
            .s_axis_tlast(engine_in_last),
            .s_axis_tuser(engine_in_user),
            .m_axis_tdata(engine_out_data[e*DATA_WIDTH +: DATA_WIDTH]),
            .m_axis_tkeep(engine_out_keep[e*KEEP_WIDTH +: KEEP_WIDTH]),
            .m_axis_tvalid(engine_out_valid[e]),
            .m_axis_tready(1'b1),
            .m_axis_tlast(engine_out_last[e]),
            .m_axis_tuser(engine_out_user[e*128 +: 128])
        );
    end
endgenerate

wire [63:0] checksum_crc;

crc64_nvme #(
    .DATA_WIDTH(DATA_WIDTH)
)
checksum (
    .clk(clk),
    .rst(core_rst),
    .s_axis_tdata(job_tdata),
    .s_axis_tkeep(engine_in_keep),
    .s_axis_tvalid(engine_in_valid[CHECKSUM_SLOT]),
    .s_axis_tready(engine_in_ready[CHECKSUM_SLOT]),
    .s_axis_tlast(engine_in_last),
    .m_axis_tdata(engine_out_data[CHECKSUM_SLOT*DATA_WIDTH +: DATA_WIDTH]),
    .m_axis_tkeep(engine_out_keep[CHECKSUM_SLOT*KEEP_WIDTH +: KEEP_WIDTH]),
    .m_axis_tvalid(engine_out_valid[CHECKSUM_SLOT]),
    .m_axis_tready(1'b1),
    .m_axis_tlast(engine_out_last[CHECKSUM_SLOT]),
    .m_axis_crc(checksum_crc)
);

assign engine_out_user[CHECKSUM_SLOT*128 +: 128] = {64'd0, checksum_crc};

// Per slot: the result as it will be reported.
reg  [N_SLOTS*8-1:0]          slot_status_reg = {N_SLOTS*8{1'b0}};
reg  [N_SLOTS*8-1:0]          slot_engine_status_reg = {N_SLOTS*8{1'b0}};
reg  [N_SLOTS*32-1:0]         slot_len_reg = {N_SLOTS*32{1'b0}};
reg  [N_SLOTS*64-1:0]         slot_crc_reg = {N_SLOTS*64{1'b0}};
reg  [N_SLOTS-1:0]            slot_crc_valid_reg = {N_SLOTS{1'b0}};
reg  [N_SLOTS*(WORD_WIDTH+1)-1:0] slot_words_reg = {N_SLOTS*(WORD_WIDTH+1){1'b0}};

wire [N_ENGINES*DATA_WIDTH-1:0] buffer_rd_data;
wire [N_SOURCES-1:0]            buffer_rd_en;
wire [WORD_WIDTH-1:0]           buffer_rd_addr;
wire [N_SLOTS-1:0]              slot_release;

generate
    for (e = 0; e < N_ENGINES; e = e + 1) begin : result_buffer
        wire [WORD_WIDTH:0] words = slot_words_reg[e*(WORD_WIDTH+1) +: WORD_WIDTH+1];
        wire                room = !words[WORD_WIDTH];

        ram_sdp #(
            .WIDTH(DATA_WIDTH),
            .DEPTH(WORDS)
        )
        ram (
            .clk(clk),
            .wr_en(engine_out_valid[e] && room),
            .wr_addr(words[WORD_WIDTH-1:0]),
            .wr_data(engine_out_data[e*DATA_WIDTH +: DATA_WIDTH]),
            .rd_en(buffer_rd_en[e]),
            .rd_addr(buffer_rd_addr),
            .rd_data(buffer_rd_data[e*DATA_WIDTH +: DATA_WIDTH])
        );
    end
endgenerate

// The bytes the engines report are authoritative; keep only says where each beat ends.
wire unused_engine_keep = &{1'b0, engine_out_keep};

integer s;
always @(posedge clk) begin
    for (s = 0; s < N_SLOTS; s = s + 1) begin
        if (engine_out_valid[s]) begin
            if (!slot_words_reg[s*(WORD_WIDTH+1) + WORD_WIDTH] && s != CHECKSUM_SLOT) begin
                slot_words_reg[s*(WORD_WIDTH+1) +: WORD_WIDTH+1] <=
                    slot_words_reg[s*(WORD_WIDTH+1) +: WORD_WIDTH+1] + 1'b1;
            end
            if (engine_out_last[s]) begin
                slot_done_reg[s] <= 1'b1;
                // The checksum unit's CRC sits where the engines' completions have theirs.
                slot_crc_reg[s*64 +: 64] <= engine_out_user[s*128 + LZ4_DONE_CRC_LSB +: 64];
                if (s < N_ENGINES && slot_load_reg[s]) begin
                    // A dictionary load: no output (a compress engine's one-byte empty block
                    // is not sent); a failed one leaves no dictionary. Both engines report
                    // the status at the same place, 0 for ok (LZ4C_OK, LZ4_OK).
                    slot_engine_status_reg[s*8 +: 8] <=
                        {4'd0, engine_out_user[s*128 + LZ4_DONE_STATUS_LSB +: 4]};
                    slot_len_reg[s*32 +: 32] <= 32'd0;
                    slot_crc_valid_reg[s] <= 1'b0;
                    if (engine_out_user[s*128 + LZ4_DONE_STATUS_LSB +: 4] == LZ4_OK) begin
                        slot_status_reg[s*8 +: 8] <= RES_OK;
                    end else begin
                        slot_status_reg[s*8 +: 8] <= RES_BAD_DICT;
                        slot_dict_id_reg[s*32 +: 32] <= 32'd0;
                    end
                end else if (s < N_COMPRESS) begin
                    slot_engine_status_reg[s*8 +: 8] <=
                        {4'd0, engine_out_user[s*128 + LZ4C_DONE_STATUS_LSB +: 4]};
                    // Incompressible, no block, or a block over the buffer: no output.
                    if (engine_out_user[s*128 + LZ4C_DONE_INCOMPRESSIBLE_BIT]
                            || engine_out_user[s*128 + LZ4C_DONE_LENGTH_LSB +: 32] > MAX_JOB) begin
                        slot_status_reg[s*8 +: 8] <= RES_INCOMPRESSIBLE;
                        slot_len_reg[s*32 +: 32] <= 32'd0;
                    end else begin
                        slot_status_reg[s*8 +: 8] <= RES_OK;
                        slot_len_reg[s*32 +: 32] <= engine_out_user[s*128 + LZ4C_DONE_LENGTH_LSB +: 32];
                    end
                    slot_crc_valid_reg[s] <= 1'b1;
                end else if (s < N_ENGINES) begin
                    slot_engine_status_reg[s*8 +: 8] <=
                        {4'd0, engine_out_user[s*128 + LZ4_DONE_STATUS_LSB +: 4]};
                    if (engine_out_user[s*128 + LZ4_DONE_STATUS_LSB +: 4] == LZ4_OK) begin
                        slot_status_reg[s*8 +: 8] <= RES_OK;
                        slot_len_reg[s*32 +: 32] <= engine_out_user[s*128 + LZ4_DONE_LENGTH_LSB +: 32];
                    end else begin
                        slot_status_reg[s*8 +: 8] <=
                            engine_out_user[s*128 + LZ4_DONE_STATUS_LSB +: 4] == LZ4_ERR_SHORT
                            ? RES_LENGTH : RES_MALFORMED;
                        slot_len_reg[s*32 +: 32] <= 32'd0;
                    end
                    slot_crc_valid_reg[s] <= engine_out_user[s*128 + LZ4_DONE_CRC_VALID_BIT];
                end else begin
                    slot_engine_status_reg[s*8 +: 8] <= 8'd0;
                    slot_status_reg[s*8 +: 8] <= RES_OK;
                    slot_len_reg[s*32 +: 32] <= 32'd0;
                    slot_crc_valid_reg[s] <= 1'b1;
                end
            end
        end
        if (slot_release[s]) begin
            slot_done_reg[s] <= 1'b0;
            slot_busy_reg[s] <= 1'b0;
            slot_words_reg[s*(WORD_WIDTH+1) +: WORD_WIDTH+1] <= {(WORD_WIDTH+1){1'b0}};
        end
    end
    if (accept_header) begin
        slot_busy_reg[route_next] <= 1'b1;
        slot_tag_reg[route_next*32 +: 32] <= hdr_tag;
        slot_load_reg[route_next] <= hdr_is_load;
        if (hdr_is_load) begin
            slot_dict_id_reg[route_next*32 +: 32] <= hdr_dict_id;
        end
    end

    if (core_rst) begin
        slot_busy_reg <= {N_SLOTS{1'b0}};
        slot_load_reg <= {N_SLOTS{1'b0}};
        // The engines' dictionaries are gone with their reset.
        slot_dict_id_reg <= {N_SLOTS*32{1'b0}};
        slot_done_reg <= {N_SLOTS{1'b0}};
        slot_words_reg <= {N_SLOTS*(WORD_WIDTH+1){1'b0}};
    end
end

/*
 * Result sender: header beat, then the buffered output
 */

wire [N_SOURCES-1:0] release_sources;
wire        result_sent;
wire [7:0]  res_status;
wire [31:0] res_len;
wire [31:0] res_tag;
wire        res_crc_valid;

accel_result_sender #(
    .DATA_WIDTH(DATA_WIDTH),
    .KEEP_WIDTH(KEEP_WIDTH),
    .N_COMPRESS(N_COMPRESS),
    .N_DECOMPRESS(N_DECOMPRESS),
    .MAX_JOB_BYTES(MAX_JOB_BYTES)
)
sender (
    .clk(clk),
    .rst(rst),
    .core_rst(core_rst),
    .source_ready({error_pending_reg, slot_done_reg}),
    .release_sources(release_sources),
    .slot_status(slot_status_reg),
    .slot_engine_status(slot_engine_status_reg),
    .slot_tag(slot_tag_reg),
    .slot_len(slot_len_reg),
    .slot_crc(slot_crc_reg),
    .slot_crc_valid(slot_crc_valid_reg),
    .slot_load(slot_load_reg),
    .error_status(error_status_reg),
    .error_opcode(error_opcode_reg),
    .error_tag(error_tag_reg),
    .buffer_rd_en(buffer_rd_en),
    .buffer_rd_addr(buffer_rd_addr),
    .buffer_rd_data(buffer_rd_data),
    .result_sent(result_sent),
    .result_status(res_status),
    .result_len(res_len),
    .result_tag(res_tag),
    .result_crc_valid(res_crc_valid),
    .m_axis_tdata(m_axis_tdata),
    .m_axis_tkeep(m_axis_tkeep),
    .m_axis_tvalid(m_axis_tvalid),
    .m_axis_tready(m_axis_tready),
    .m_axis_tlast(m_axis_tlast)
);

assign slot_release = release_sources[N_SLOTS-1:0];

/*
 * Counters
 */

wire [31:0] jobs_in, jobs_out;
wire [63:0] bytes_in, bytes_out;
wire [31:0] err_opcode, err_length, err_malformed, err_crc, incompressible;
wire [7:0]  last_error;
wire [31:0] last_error_tag;

accel_counters counters (
    .clk(clk),
    .rst(core_rst),
    .job_in(accept_header || accept_error),
    .job_in_bytes(hdr_input_len),
    .result_out(result_sent),
    .result_bytes(res_len),
    .result_status(res_status),
    .result_crc_valid(res_crc_valid),
    .result_tag(res_tag),
    .jobs_in(jobs_in),
    .jobs_out(jobs_out),
    .bytes_in(bytes_in),
    .bytes_out(bytes_out),
    .err_opcode(err_opcode),
    .err_length(err_length),
    .err_malformed(err_malformed),
    .err_crc(err_crc),
    .incompressible(incompressible),
    .last_error(last_error),
    .last_error_tag(last_error_tag)
);

/*
 * Dispatcher state and the error path
 */

always @(posedge clk) begin
    dispatch_state_reg <= dispatch_state_next;
    route_reg <= route_next;
    route_user_reg <= route_user_next;
    route_first_reg <= route_first_next;

    if (accept_error) begin
        error_pending_reg <= 1'b1;
        error_status_reg <= accept_error_status;
        error_opcode_reg <= hdr_opcode;
        error_tag_reg <= hdr_tag;
    end
    if (release_sources[ERROR_SOURCE]) begin
        error_pending_reg <= 1'b0;
    end

    if (core_rst) begin
        dispatch_state_reg <= DISPATCH_HEADER;
        error_pending_reg <= 1'b0;
    end
end

/*
 * AXI4-Lite register block
 */

accel_regs #(
    .N_COMPRESS(N_COMPRESS),
    .N_DECOMPRESS(N_DECOMPRESS),
    .BEAT_BYTES(KEEP_WIDTH),
    .MAX_JOB_BYTES(MAX_JOB_BYTES),
    .HISTORY_SIZE(HISTORY_SIZE),
    .DICT_SIZE(DICT_SIZE),
    .COMPRESS_DICT_SIZE(COMPRESS_DICT_SIZE),
    .N_SLOTS(N_SLOTS)
)
regs (
    .clk(clk),
    .rst(rst),
    .s_axil_awaddr(s_axil_awaddr),
    .s_axil_awprot(s_axil_awprot),
    .s_axil_awvalid(s_axil_awvalid),
    .s_axil_awready(s_axil_awready),
    .s_axil_wdata(s_axil_wdata),
    .s_axil_wstrb(s_axil_wstrb),
    .s_axil_wvalid(s_axil_wvalid),
    .s_axil_wready(s_axil_wready),
    .s_axil_bresp(s_axil_bresp),
    .s_axil_bvalid(s_axil_bvalid),
    .s_axil_bready(s_axil_bready),
    .s_axil_araddr(s_axil_araddr),
    .s_axil_arprot(s_axil_arprot),
    .s_axil_arvalid(s_axil_arvalid),
    .s_axil_arready(s_axil_arready),
    .s_axil_rdata(s_axil_rdata),
    .s_axil_rresp(s_axil_rresp),
    .s_axil_rvalid(s_axil_rvalid),
    .s_axil_rready(s_axil_rready),
    .enable(enable),
    .soft_reset(soft_reset),
    .slot_busy(slot_busy_reg),
    .slot_dict_id(slot_dict_id_reg),
    .jobs_in(jobs_in),
    .jobs_out(jobs_out),
    .bytes_in(bytes_in),
    .bytes_out(bytes_out),
    .err_opcode(err_opcode),
    .err_length(err_length),
    .err_malformed(err_malformed),
    .err_crc(err_crc),
    .incompressible(incompressible),
    .last_error(last_error),
    .last_error_tag(last_error_tag)
);

// The error path has no buffer to read; the checksum unit has no output data.
wire unused = &{1'b0, buffer_rd_en[N_SOURCES-1:N_ENGINES],
    engine_out_data[CHECKSUM_SLOT*DATA_WIDTH +: DATA_WIDTH]};

endmodule

`resetall
`default_nettype wire
