/*
 * lzcache — CacheAccelerator: the device a card carries
 *
 * Jobs in on a host-to-card AXI-Stream, results out on a card-to-host AXI-Stream (the
 * streaming interfaces of a Xilinx XDMA design), control and counters on AXI4-Lite.
 */

`resetall
`timescale 1ns / 1ps
`default_nettype none

// CacheAccelerator top: the job input register, the dispatcher (accel_dispatcher, with the
// header's checks in accel_job_header), N_COMPRESS lz4_compress engines, N_DECOMPRESS
// lz4_decompress engines, a checksum unit, a result slot per engine and one for the checksum
// unit (accel_result_slot: the job's tag, the output buffer, the completion as a result), the
// result sender (accel_result_sender), the counters (accel_counters) and the register block
// (accel_regs). This module only connects them. Layouts and register map:
// cache_accelerator_defs.vh.
//
// A job is one host-to-card frame: a 64-byte header (one beat at 512 bits, 512/DATA_WIDTH
// beats on a narrower stream), then the payload from the next beat. The dispatcher checks the
// header, picks a free engine of the job's kind (waiting while all are busy), and streams the
// payload to it. A job with a bad magic or opcode, or lengths over MAX_JOB_BYTES, gets an
// error result and its payload is discarded. Every job gets exactly one result, carrying its
// tag: a result is one card-to-host frame, a header beat followed by the output (none for a
// checksum, an error, or an incompressible value). Results leave in completion order, not
// submission order: the host matches them by tag.
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
`include "accel_slot_kind.vh"
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
// Bits of a 64-byte job or result header.
localparam HEADER_BITS = 512;

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
    // A result slot reads a load's status from either engine at one place.
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
 * Dispatcher: the header's checks, the slot for each job, the payload routed to it
 */

wire [N_SLOTS-1:0]      engine_in_ready;
wire [N_SLOTS-1:0]      engine_in_valid;
wire [KEEP_WIDTH-1:0]   engine_in_keep;
wire                    engine_in_last;
wire [127:0]            engine_in_user;

wire                    accept;
wire [SOURCE_WIDTH-1:0] accept_slot;
wire [31:0]             accept_tag;
wire                    accept_is_load;
wire [31:0]             accept_dict_id;
wire                    job_in;
wire [31:0]             job_in_bytes;

wire                    error_pending;
wire [7:0]              error_status;
wire [7:0]              error_opcode;
wire [31:0]             error_tag;
wire [N_SOURCES-1:0]    release_sources;

wire [N_SLOTS-1:0]      slot_busy;
wire [N_SLOTS*32-1:0]   slot_dict_id;

accel_dispatcher #(
    .DATA_WIDTH(DATA_WIDTH),
    .KEEP_WIDTH(KEEP_WIDTH),
    .N_COMPRESS(N_COMPRESS),
    .N_DECOMPRESS(N_DECOMPRESS),
    .MAX_JOB_BYTES(MAX_JOB_BYTES)
)
dispatcher (
    .clk(clk),
    .rst(core_rst),
    .enable(enable),
    .job_tdata(job_tdata),
    .job_tkeep(job_tkeep),
    .job_tvalid(job_tvalid),
    .job_tready(job_tready),
    .job_tlast(job_tlast),
    .slot_busy(slot_busy),
    .slot_dict_id(slot_dict_id),
    .engine_in_valid(engine_in_valid),
    .engine_in_ready(engine_in_ready),
    .engine_in_keep(engine_in_keep),
    .engine_in_last(engine_in_last),
    .engine_in_user(engine_in_user),
    .accept(accept),
    .accept_slot(accept_slot),
    .accept_tag(accept_tag),
    .accept_is_load(accept_is_load),
    .accept_dict_id(accept_dict_id),
    .job_in(job_in),
    .job_in_bytes(job_in_bytes),
    .error_pending(error_pending),
    .error_status(error_status),
    .error_opcode(error_opcode),
    .error_tag(error_tag),
    .error_release(release_sources[ERROR_SOURCE])
);

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

// Per slot: the job it runs and its result as it will be reported (accel_result_slot).
wire [N_SLOTS-1:0]              slot_done;
wire [N_SLOTS*32-1:0]           slot_tag;
wire [N_SLOTS-1:0]              slot_load;
wire [N_SLOTS*8-1:0]            slot_status;
wire [N_SLOTS*8-1:0]            slot_engine_status;
wire [N_SLOTS*32-1:0]           slot_len;
wire [N_SLOTS*64-1:0]           slot_crc;
wire [N_SLOTS-1:0]              slot_crc_valid;

wire [N_SLOTS*DATA_WIDTH-1:0]   buffer_rd_data;
wire [N_SOURCES-1:0]            buffer_rd_en;
wire [WORD_WIDTH-1:0]           buffer_rd_addr;
wire [N_SLOTS-1:0]              slot_release;

generate
    for (e = 0; e < N_SLOTS; e = e + 1) begin : result_slot
        accel_result_slot #(
            .KIND(e < N_COMPRESS ? SLOT_COMPRESS : e < N_ENGINES ? SLOT_DECOMPRESS : SLOT_CHECKSUM),
            .DATA_WIDTH(DATA_WIDTH),
            .MAX_JOB_BYTES(MAX_JOB_BYTES)
        )
        slot (
            .clk(clk),
            .rst(core_rst),
            .assign_job(accept && accept_slot == e[SOURCE_WIDTH-1:0]),
            .assign_tag(accept_tag),
            .assign_is_load(accept_is_load),
            .assign_dict_id(accept_dict_id),
            .out_data(engine_out_data[e*DATA_WIDTH +: DATA_WIDTH]),
            .out_valid(engine_out_valid[e]),
            .out_last(engine_out_last[e]),
            .out_user(engine_out_user[e*128 +: 128]),
            .rd_en(buffer_rd_en[e]),
            .rd_addr(buffer_rd_addr),
            .rd_data(buffer_rd_data[e*DATA_WIDTH +: DATA_WIDTH]),
            .release_slot(slot_release[e]),
            .busy(slot_busy[e]),
            .done(slot_done[e]),
            .tag(slot_tag[e*32 +: 32]),
            .is_load(slot_load[e]),
            .dict_id(slot_dict_id[e*32 +: 32]),
            .status(slot_status[e*8 +: 8]),
            .engine_status(slot_engine_status[e*8 +: 8]),
            .len(slot_len[e*32 +: 32]),
            .crc(slot_crc[e*64 +: 64]),
            .crc_valid(slot_crc_valid[e])
        );
    end
endgenerate

// The bytes the engines report are authoritative; keep only says where each beat ends.
wire unused_engine_keep = &{1'b0, engine_out_keep};

/*
 * Result sender: header beat, then the buffered output
 */

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
    .source_ready({error_pending, slot_done}),
    .release_sources(release_sources),
    .slot_status(slot_status),
    .slot_engine_status(slot_engine_status),
    .slot_tag(slot_tag),
    .slot_len(slot_len),
    .slot_crc(slot_crc),
    .slot_crc_valid(slot_crc_valid),
    .slot_load(slot_load),
    .error_status(error_status),
    .error_opcode(error_opcode),
    .error_tag(error_tag),
    .buffer_rd_en(buffer_rd_en),
    .buffer_rd_addr(buffer_rd_addr),
    .buffer_rd_data(buffer_rd_data[N_ENGINES*DATA_WIDTH-1:0]),
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
    .job_in(job_in),
    .job_in_bytes(job_in_bytes),
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
    .slot_busy(slot_busy),
    .slot_dict_id(slot_dict_id),
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

// The error path has no buffer to read; the checksum unit has no output data (its slot reads
// none back).
wire unused = &{1'b0, buffer_rd_en[N_SOURCES-1:N_SLOTS],
    buffer_rd_data[CHECKSUM_SLOT*DATA_WIDTH +: DATA_WIDTH]};

endmodule

`resetall
`default_nettype wire
