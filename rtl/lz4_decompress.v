/*
 * lzcache — LZ4 block decompressor with inline CRC-64/NVME
 *
 * The read path of the CacheAccelerator: an LZ4 block in, the raw bytes out, and a
 * completion that says whether they are complete and match the expected CRC.
 */

`resetall
`timescale 1ns / 1ps
`default_nettype none

// LZ4 block decompressor: parser -> command register -> copy engine -> output register ->
// byte packer -> CRC-64/NVME.
//
// Input: one LZ4 block per frame. s_axis_tuser on the frame's first beat carries the job
// (fields in lz4_dec_status.vh):
//   [63:0]  expected CRC-64/NVME of the raw bytes
//   [95:64] expected raw length (the output bound: no more bytes are ever produced)
//   [96]    the block was compressed with the preset dictionary: matches may reach into it
//   [97]    the frame is not a block but a preset dictionary to load ([95:64] its length)
// Output: the raw bytes as one packed frame (an empty value is one beat with tkeep zero);
// m_axis_tuser on its last beat is the completion:
//   [63:0]  CRC-64/NVME of the bytes produced
//   [95:64] bytes produced (a dictionary load: bytes received)
//   [99:96] status (lz4_dec_status.vh: 0 = ok)
//   [100]   crc_valid: status ok and the CRC equals the expected one
// Every frame in gets exactly one frame out; a malformed block ends early with an error
// status (see lz4_dec_parser for the cycle bound) and the next frame follows at once.
//
// A dictionary load waits until every job before it has left the engine, takes one cycle per
// byte (lz4_dec_dict_loader) and is answered by an empty frame; jobs after it wait for that.
// A job flagged [96] while no dictionary is loaded decodes against an empty one (a match
// reaching before its output is then LZ4_ERR_OFFSET_RANGE), as LZ4 without a dictionary.
module lz4_decompress #
(
    // Width of the input and output streams in bits (64, 128, 256 or 512)
    parameter DATA_WIDTH = 512,
    // Width of tkeep: one bit per byte
    parameter KEEP_WIDTH = DATA_WIDTH/8,
    // Output bytes produced per cycle at most (a power of two in 8..KEEP_WIDTH)
    parameter OUT_BYTES = KEEP_WIDTH < 32 ? KEEP_WIDTH : 32,
    // Bytes of history (a power of two up to 65536); blocks with larger offsets are rejected
    parameter HISTORY_SIZE = 65536,
    // Largest preset dictionary in bytes (a power of two in 4*OUT_BYTES..65536)
    parameter DICT_SIZE = 65536
)
(
    input  wire                  clk,
    input  wire                  rst,

    /*
     * LZ4 block input
     */
    input  wire [DATA_WIDTH-1:0] s_axis_tdata,
    input  wire [KEEP_WIDTH-1:0] s_axis_tkeep,
    input  wire                  s_axis_tvalid,
    output wire                  s_axis_tready,
    input  wire                  s_axis_tlast,
    input  wire [127:0]          s_axis_tuser,

    /*
     * Raw output with completion
     */
    output wire [DATA_WIDTH-1:0] m_axis_tdata,
    output wire [KEEP_WIDTH-1:0] m_axis_tkeep,
    output wire                  m_axis_tvalid,
    input  wire                  m_axis_tready,
    output wire                  m_axis_tlast,
    output wire [127:0]          m_axis_tuser
);

/* verilator lint_off UNUSEDPARAM */
`include "lz4_dec_status.vh"
/* verilator lint_on UNUSEDPARAM */

localparam LEN_WIDTH = $clog2(OUT_BYTES + 1);
localparam DICT_WIDTH = $clog2(DICT_SIZE);
// Job record: {expected CRC, bytes produced, status}.
localparam META_WIDTH = 64 + 32 + 4;

wire [OUT_BYTES*8-1:0] cmd_literals;
wire [LEN_WIDTH-1:0]   cmd_lit_len;
wire [LEN_WIDTH-1:0]   cmd_match_len;
wire [15:0]            cmd_offset;
wire [15:0]            cmd_back;
wire                   cmd_end;
wire [3:0]             cmd_status;
wire [31:0]            cmd_length;
wire [63:0]            cmd_crc;
wire                   cmd_valid;
wire                   cmd_ready;

/*
 * Input: blocks to the parser, dictionary frames to the loader
 */

reg  in_frame_reg = 1'b0;
reg  frame_load_reg = 1'b0;
wire beat_is_load = in_frame_reg ? frame_load_reg : s_axis_tuser[LZ4_JOB_LOAD_BIT];
wire parser_ready;
wire loader_ready;
wire loader_busy;
wire block_valid = s_axis_tvalid && !beat_is_load && !loader_busy;

assign s_axis_tready = beat_is_load ? loader_ready : parser_ready && !loader_busy;

wire in_accept = s_axis_tvalid && s_axis_tready;
wire job_start = in_accept && !in_frame_reg && !beat_is_load;

// Jobs taken in and not yet out (at most the parser's, the FIFOs' and the pipeline's: far
// fewer than 256); a dictionary load starts only at zero.
reg [7:0] jobs_in_flight_reg = 8'd0;
wire      job_leaves;

always @(posedge clk) begin
    if (in_accept) begin
        in_frame_reg <= !s_axis_tlast;
        if (!in_frame_reg) begin
            frame_load_reg <= s_axis_tuser[LZ4_JOB_LOAD_BIT];
        end
    end
    jobs_in_flight_reg <= jobs_in_flight_reg + {7'd0, job_start} - {7'd0, job_leaves};
    if (rst) begin
        in_frame_reg <= 1'b0;
        frame_load_reg <= 1'b0;
        jobs_in_flight_reg <= 8'd0;
    end
end

wire                  dict_wr_en;
wire [DICT_WIDTH-1:0] dict_wr_addr;
wire [7:0]            dict_wr_data;
wire [16:0]           dict_len;
wire [16:0]           dict_end;
wire [OUT_BYTES*16-1:0] dict_tail;
wire                  dict_changed;
wire [3:0]            load_status;
wire [31:0]           load_length;
wire                  load_done_valid;
wire                  load_done_ready;

lz4_dec_dict_loader #(
    .DATA_WIDTH(DATA_WIDTH),
    .OUT_BYTES(OUT_BYTES),
    .DICT_SIZE(DICT_SIZE)
)
dict_loader (
    .clk(clk),
    .rst(rst),
    .s_data(s_axis_tdata),
    .s_keep(s_axis_tkeep),
    .s_valid(s_axis_tvalid && beat_is_load),
    .s_ready(loader_ready),
    .s_last(s_axis_tlast),
    .s_user(s_axis_tuser[LZ4_JOB_LENGTH_LSB +: 32]),
    .s_idle(jobs_in_flight_reg == 8'd0),
    .m_wr_en(dict_wr_en),
    .m_wr_addr(dict_wr_addr),
    .m_wr_data(dict_wr_data),
    .m_dict_len(dict_len),
    .m_dict_end(dict_end),
    .m_dict_tail(dict_tail),
    .m_dict_changed(dict_changed),
    .busy(loader_busy),
    .m_done_status(load_status),
    .m_done_length(load_length),
    .m_done_valid(load_done_valid),
    .m_done_ready(load_done_ready)
);

lz4_dec_parser #(
    .DATA_WIDTH(DATA_WIDTH),
    .OUT_BYTES(OUT_BYTES),
    .HISTORY_SIZE(HISTORY_SIZE)
)
parser (
    .clk(clk),
    .rst(rst),
    .s_axis_tdata(s_axis_tdata),
    .s_axis_tkeep(s_axis_tkeep),
    .s_axis_tvalid(block_valid),
    .s_axis_tready(parser_ready),
    .s_axis_tlast(s_axis_tlast),
    .s_axis_tuser(s_axis_tuser[96:0]),
    .dict_len(dict_len),
    .m_cmd_literals(cmd_literals),
    .m_cmd_lit_len(cmd_lit_len),
    .m_cmd_match_len(cmd_match_len),
    .m_cmd_offset(cmd_offset),
    .m_cmd_back(cmd_back),
    .m_cmd_end(cmd_end),
    .m_cmd_status(cmd_status),
    .m_cmd_length(cmd_length),
    .m_cmd_crc(cmd_crc),
    .m_cmd_valid(cmd_valid),
    .m_cmd_ready(cmd_ready)
);

/*
 * Command register: the parser's one-cycle sequence decode and the copy engine's byte
 * selection each get a cycle of their own (a skid buffer, so full rate is kept and the copy
 * engine's ready reaches the parser only through a flip-flop).
 */

localparam CMD_WIDTH = OUT_BYTES*8 + 2*LEN_WIDTH + 32 + 1 + META_WIDTH;

wire [OUT_BYTES*8-1:0] reg_cmd_literals;
wire [LEN_WIDTH-1:0]   reg_cmd_lit_len;
wire [LEN_WIDTH-1:0]   reg_cmd_match_len;
wire [15:0]            reg_cmd_offset;
wire [15:0]            reg_cmd_back;
wire                   reg_cmd_end;
wire [META_WIDTH-1:0]  reg_cmd_meta;
wire                   reg_cmd_valid;
wire                   reg_cmd_ready;

axis_skid_buffer #(
    .WIDTH(CMD_WIDTH)
)
cmd_register (
    .clk(clk),
    .rst(rst),
    .s_payload({cmd_literals, cmd_lit_len, cmd_match_len, cmd_offset, cmd_back, cmd_end,
                cmd_crc, cmd_length, cmd_status}),
    .s_valid(cmd_valid),
    .s_ready(cmd_ready),
    .m_payload({reg_cmd_literals, reg_cmd_lit_len, reg_cmd_match_len, reg_cmd_offset, reg_cmd_back,
                reg_cmd_end, reg_cmd_meta}),
    .m_valid(reg_cmd_valid),
    .m_ready(reg_cmd_ready)
);

wire [OUT_BYTES*8-1:0] copy_data;
wire [LEN_WIDTH-1:0]   copy_count;
wire                   copy_end;
wire [META_WIDTH-1:0]  copy_meta;
wire                   copy_valid;
wire                   copy_ready;

lz4_dec_copy #(
    .OUT_BYTES(OUT_BYTES),
    .HISTORY_SIZE(HISTORY_SIZE),
    .META_WIDTH(META_WIDTH),
    .DICT_SIZE(DICT_SIZE)
)
copy (
    .clk(clk),
    .rst(rst),
    .s_cmd_literals(reg_cmd_literals),
    .s_cmd_lit_len(reg_cmd_lit_len),
    .s_cmd_match_len(reg_cmd_match_len),
    .s_cmd_offset(reg_cmd_offset),
    .s_cmd_back(reg_cmd_back),
    .s_cmd_end(reg_cmd_end),
    .s_cmd_meta(reg_cmd_meta),
    .s_cmd_valid(reg_cmd_valid),
    .s_cmd_ready(reg_cmd_ready),
    .m_data(copy_data),
    .m_count(copy_count),
    .m_end(copy_end),
    .m_meta(copy_meta),
    .m_valid(copy_valid),
    .m_ready(copy_ready),
    .s_dict_wr_en(dict_wr_en),
    .s_dict_wr_addr(dict_wr_addr),
    .s_dict_wr_data(dict_wr_data),
    .dict_end(dict_end),
    .dict_tail(dict_tail),
    .dict_changed(dict_changed)
);

/*
 * Output register: the copy engine's byte selection and the packer's lane shift each get a
 * cycle of their own (a skid buffer, so full rate is kept).
 */

localparam RAW_WIDTH = OUT_BYTES*8 + LEN_WIDTH + 1 + META_WIDTH;

wire [OUT_BYTES*8-1:0] raw_data;
wire [LEN_WIDTH-1:0]   raw_count;
wire                   raw_end;
wire [META_WIDTH-1:0]  raw_meta;
wire                   raw_valid;
wire                   raw_ready;

axis_skid_buffer #(
    .WIDTH(RAW_WIDTH)
)
raw_register (
    .clk(clk),
    .rst(rst),
    .s_payload({copy_data, copy_count, copy_end, copy_meta}),
    .s_valid(copy_valid),
    .s_ready(copy_ready),
    .m_payload({raw_data, raw_count, raw_end, raw_meta}),
    .m_valid(raw_valid),
    .m_ready(raw_ready)
);

wire [DATA_WIDTH-1:0] packed_tdata;
wire [KEEP_WIDTH-1:0] packed_tkeep;
wire                  packed_tvalid;
wire                  packed_tready;
wire                  packed_tlast;
wire [META_WIDTH-1:0] packed_tuser;

axis_byte_packer #(
    .DATA_WIDTH(DATA_WIDTH),
    .IN_BYTES(OUT_BYTES),
    .USER_WIDTH(META_WIDTH)
)
packer (
    .clk(clk),
    .rst(rst),
    .s_data(raw_data),
    .s_count(raw_count),
    .s_end(raw_end),
    .s_user(raw_meta),
    .s_valid(raw_valid),
    .s_ready(raw_ready),
    .m_axis_tdata(packed_tdata),
    .m_axis_tkeep(packed_tkeep),
    .m_axis_tvalid(packed_tvalid),
    .m_axis_tready(packed_tready),
    .m_axis_tlast(packed_tlast),
    .m_axis_tuser(packed_tuser)
);

/*
 * CRC of the raw bytes; the job record waits in a FIFO while its frame passes the CRC unit
 */

wire                  crc_s_ready;
wire [DATA_WIDTH-1:0] crc_tdata;
wire [KEEP_WIDTH-1:0] crc_tkeep;
wire                  crc_tvalid;
wire                  crc_tready;
wire                  crc_tlast;
wire                  meta_s_ready;
wire [META_WIDTH-1:0] meta_out;
wire                  meta_valid;
wire [63:0]           frame_crc;

wire frame_may_pass = !packed_tlast || meta_s_ready;
assign packed_tready = crc_s_ready && frame_may_pass;

crc64_nvme #(
    .DATA_WIDTH(DATA_WIDTH)
)
crc (
    .clk(clk),
    .rst(rst),
    .s_axis_tdata(packed_tdata),
    .s_axis_tkeep(packed_tkeep),
    .s_axis_tvalid(packed_tvalid && frame_may_pass),
    .s_axis_tready(crc_s_ready),
    .s_axis_tlast(packed_tlast),
    .m_axis_tdata(crc_tdata),
    .m_axis_tkeep(crc_tkeep),
    .m_axis_tvalid(crc_tvalid),
    .m_axis_tready(crc_tready),
    .m_axis_tlast(crc_tlast),
    .m_axis_crc(frame_crc)
);

sync_fifo #(
    .WIDTH(META_WIDTH),
    .DEPTH(8)
)
meta_fifo (
    .clk(clk),
    .rst(rst),
    .s_data(packed_tuser),
    .s_valid(packed_tvalid && packed_tlast && crc_s_ready),
    .s_ready(meta_s_ready),
    .m_data(meta_out),
    .m_valid(meta_valid),
    .m_ready(crc_tvalid && crc_tready && crc_tlast)
);

wire [63:0] expected_crc = meta_out[99:36];
wire [31:0] produced = meta_out[35:4];
wire [3:0]  status = meta_out[3:0];
wire        crc_valid = status == LZ4_OK && frame_crc == expected_crc;

// The completion, each field at its named position (lz4_dec_status.vh).
reg [127:0] completion;
always @* begin
    completion = 128'd0;
    completion[LZ4_DONE_CRC_LSB +: 64] = frame_crc;
    completion[LZ4_DONE_LENGTH_LSB +: 32] = produced;
    completion[LZ4_DONE_STATUS_LSB +: 4] = status;
    completion[LZ4_DONE_CRC_VALID_BIT] = crc_valid;
end

// A dictionary load's completion: an empty frame with its status and byte count.
reg [127:0] load_completion;
always @* begin
    load_completion = 128'd0;
    load_completion[LZ4_DONE_LENGTH_LSB +: 32] = load_length;
    load_completion[LZ4_DONE_STATUS_LSB +: 4] = load_status;
end

/*
 * Output: the jobs' frames, or a load's completion (never both: a load starts with no job in
 * flight and no job starts before its completion is taken)
 */

assign m_axis_tdata = load_done_valid ? {DATA_WIDTH{1'b0}} : crc_tdata;
assign m_axis_tkeep = load_done_valid ? {KEEP_WIDTH{1'b0}} : crc_tkeep;
assign m_axis_tvalid = load_done_valid || crc_tvalid;
assign m_axis_tlast = load_done_valid || crc_tlast;
assign crc_tready = m_axis_tready && !load_done_valid;
assign load_done_ready = m_axis_tready;
// Only on the last beat (zero on others), so a held beat's tuser stays unchanged while the
// next frame's record enters the FIFO.
assign m_axis_tuser = load_done_valid ? load_completion : crc_tlast ? completion : 128'd0;

assign job_leaves = crc_tvalid && crc_tready && crc_tlast;

// meta_valid is high whenever a last beat is out (its record entered the FIFO first).
wire unused = &{1'b0, meta_valid, s_axis_tuser[127:98]};

endmodule

`resetall
`default_nettype wire
