/*
 * lzcache — LZ4 block compressor with inline CRC-64/NVME
 *
 * The write path of the CacheAccelerator: a raw value in, an LZ4 block out, with the CRC of
 * the raw bytes and whether the block is worth storing.
 */

`resetall
`timescale 1ns / 1ps
`default_nettype none

// LZ4 block compressor: CRC-64/NVME (inline on the input) -> match finder -> sequence
// emitter -> byte packer.
//
// Input: one value per frame, packed (full beats, then a last beat with contiguous tkeep;
// an empty value is one beat with tkeep zero); tlast marks the end. Job fields on tuser of
// the first beat (lz4_comp_status.vh): LZ4C_JOB_DICT_BIT compresses the value with the preset
// dictionary (matches may reach into it, as LZ4's dictionary format means; none loaded: no
// such matches), LZ4C_JOB_LOAD_BIT makes the frame the dictionary (up to DICT_SIZE bytes; its
// completion carries the status, and a one-byte empty block the host ignores).
// Output: one LZ4 block per frame, valid for the strictest decoder (minimum match 4,
// offsets 1..WINDOW_SIZE-32, last match at least 12 bytes before the end, last 5 bytes
// literals, a literals-only last sequence). m_axis_tuser on the last beat is the completion:
//   [63:0]  CRC-64/NVME of the input
//   [95:64] block length in bytes
//   [99:96] status (lz4_comp_status.vh: 0 = ok)
//   [100]   incompressible: no usable block (status not ok), or the block is not smaller
//           than the input; the host then stores the value raw
// Rate: one input byte per cycle whatever the data (plus a few cycles per value), while the
// output is accepted.
module lz4_compress #
(
    // Width of the input and output streams in bits (64, 128, 256 or 512)
    parameter DATA_WIDTH = 512,
    // Width of tkeep: one bit per byte
    parameter KEEP_WIDTH = DATA_WIDTH/8,
    // log2 of the hash table entries
    parameter HASH_BITS = 12,
    // Bytes of history (a power of two, 256..65536); offsets reach WINDOW_SIZE - 32
    parameter WINDOW_SIZE = 65536,
    // Longest literal run that can be encoded, in bytes (a power of two)
    parameter LIT_BUFFER = 65536,
    // Largest preset dictionary in bytes (a power of two, 256..65536); matches reach into it
    // as far as the window's offsets do
    parameter DICT_SIZE = 65536
)
(
    input  wire                  clk,
    input  wire                  rst,

    /*
     * Raw input
     */
    input  wire [DATA_WIDTH-1:0] s_axis_tdata,
    input  wire [KEEP_WIDTH-1:0] s_axis_tkeep,
    input  wire                  s_axis_tvalid,
    output wire                  s_axis_tready,
    input  wire                  s_axis_tlast,
    input  wire [127:0]          s_axis_tuser,

    /*
     * LZ4 block output with completion
     */
    output wire [DATA_WIDTH-1:0] m_axis_tdata,
    output wire [KEEP_WIDTH-1:0] m_axis_tkeep,
    output wire                  m_axis_tvalid,
    input  wire                  m_axis_tready,
    output wire                  m_axis_tlast,
    output wire [127:0]          m_axis_tuser
);

/* verilator lint_off UNUSEDPARAM */
`include "lz4_comp_status.vh"
/* verilator lint_on UNUSEDPARAM */

// A frame's kind waits in a FIFO while its beats pass the CRC unit (which carries no
// sideband): written with the first beat in, read with the last beat into the matcher.
// A frame's first beat waits while the FIFO is full (only many short frames fill it).
reg  first_beat_reg = 1'b1;
wire crc_tready;
wire kind_ready;
wire kind_valid;
wire job_dict;
wire job_load;
wire kind_room = kind_ready || !first_beat_reg;

assign s_axis_tready = crc_tready && kind_room;

always @(posedge clk) begin
    if (s_axis_tvalid && s_axis_tready) begin
        first_beat_reg <= s_axis_tlast;
    end
    if (rst) begin
        first_beat_reg <= 1'b1;
    end
end

wire [DATA_WIDTH-1:0] raw_tdata;
wire [KEEP_WIDTH-1:0] raw_tkeep;
wire                  raw_tvalid;
wire                  raw_tready;
wire                  raw_tlast;
wire [63:0]           raw_crc;

crc64_nvme #(
    .DATA_WIDTH(DATA_WIDTH)
)
crc (
    .clk(clk),
    .rst(rst),
    .s_axis_tdata(s_axis_tdata),
    .s_axis_tkeep(s_axis_tkeep),
    .s_axis_tvalid(s_axis_tvalid && kind_room),
    .s_axis_tready(crc_tready),
    .s_axis_tlast(s_axis_tlast),
    .m_axis_tdata(raw_tdata),
    .m_axis_tkeep(raw_tkeep),
    .m_axis_tvalid(raw_tvalid),
    .m_axis_tready(raw_tready),
    .m_axis_tlast(raw_tlast),
    .m_axis_crc(raw_crc)
);

sync_fifo #(
    .WIDTH(2),
    .DEPTH(8)
)
kinds (
    .clk(clk),
    .rst(rst),
    .s_data({s_axis_tuser[LZ4C_JOB_LOAD_BIT], s_axis_tuser[LZ4C_JOB_DICT_BIT]}),
    .s_valid(s_axis_tvalid && crc_tready && first_beat_reg),
    .s_ready(kind_ready),
    .m_data({job_load, job_dict}),
    .m_valid(kind_valid),
    .m_ready(raw_tvalid && raw_tready && raw_tlast)
);

wire [7:0]  lit_data;
wire        lit_valid;
wire        lit_full;
wire [84:0] rec_data;
wire [95:0] rec_job;
wire        rec_valid;
wire        rec_ready;

lz4_comp_matcher #(
    .DATA_WIDTH(DATA_WIDTH),
    .HASH_BITS(HASH_BITS),
    .WINDOW_SIZE(WINDOW_SIZE),
    .LIT_BUFFER(LIT_BUFFER),
    .DICT_SIZE(DICT_SIZE)
)
matcher (
    .clk(clk),
    .rst(rst),
    .s_axis_tdata(raw_tdata),
    .s_axis_tkeep(raw_tkeep),
    .s_axis_tvalid(raw_tvalid),
    .s_axis_tready(raw_tready),
    .s_axis_tlast(raw_tlast),
    .s_axis_crc(raw_crc),
    .s_axis_dict(job_dict),
    .s_axis_load(job_load),
    .m_lit_data(lit_data),
    .m_lit_valid(lit_valid),
    .m_lit_full(lit_full),
    .m_rec_data(rec_data),
    .m_rec_job(rec_job),
    .m_rec_valid(rec_valid),
    .m_rec_ready(rec_ready)
);

// Record register: the matcher's decision reaches the emitter's record FIFO through
// flip-flops (and the emitter reads a sequence's literals a cycle later, see the emitter).
wire [84:0] reg_rec_data;
wire [95:0] reg_rec_job;
wire        reg_rec_valid;
wire        reg_rec_ready;

axis_skid_buffer #(
    .WIDTH(85 + 96)
)
rec_register (
    .clk(clk),
    .rst(rst),
    .s_payload({rec_data, rec_job}),
    .s_valid(rec_valid),
    .s_ready(rec_ready),
    .m_payload({reg_rec_data, reg_rec_job}),
    .m_valid(reg_rec_valid),
    .m_ready(reg_rec_ready)
);

wire [63:0]  block_data;
wire [3:0]   block_count;
wire         block_end;
wire [127:0] block_user;
wire         block_valid;
wire         block_ready;

lz4_comp_emitter #(
    .LIT_BUFFER(LIT_BUFFER)
)
emitter (
    .clk(clk),
    .rst(rst),
    .s_lit_data(lit_data),
    .s_lit_valid(lit_valid),
    .s_lit_full(lit_full),
    .s_rec_data(reg_rec_data),
    .s_rec_job(reg_rec_job),
    .s_rec_valid(reg_rec_valid),
    .s_rec_ready(reg_rec_ready),
    .m_data(block_data),
    .m_count(block_count),
    .m_end(block_end),
    .m_user(block_user),
    .m_valid(block_valid),
    .m_ready(block_ready)
);

// Block bytes register: the literal buffer's read data is selected in the emitter and
// accumulated in the packer in cycles of their own.
wire [63:0]  reg_block_data;
wire [3:0]   reg_block_count;
wire         reg_block_end;
wire [127:0] reg_block_user;
wire         reg_block_valid;
wire         reg_block_ready;

axis_skid_buffer #(
    .WIDTH(64 + 4 + 1 + 128)
)
block_register (
    .clk(clk),
    .rst(rst),
    .s_payload({block_data, block_count, block_end, block_user}),
    .s_valid(block_valid),
    .s_ready(block_ready),
    .m_payload({reg_block_data, reg_block_count, reg_block_end, reg_block_user}),
    .m_valid(reg_block_valid),
    .m_ready(reg_block_ready)
);

axis_byte_packer #(
    .DATA_WIDTH(DATA_WIDTH),
    .IN_BYTES(8),
    .USER_WIDTH(128)
)
packer (
    .clk(clk),
    .rst(rst),
    .s_data(reg_block_data),
    .s_count(reg_block_count),
    .s_end(reg_block_end),
    .s_user(reg_block_user),
    .s_valid(reg_block_valid),
    .s_ready(reg_block_ready),
    .m_axis_tdata(m_axis_tdata),
    .m_axis_tkeep(m_axis_tkeep),
    .m_axis_tvalid(m_axis_tvalid),
    .m_axis_tready(m_axis_tready),
    .m_axis_tlast(m_axis_tlast),
    .m_axis_tuser(m_axis_tuser)
);

// Only the two job bits of tuser are used; the kind is read with a frame's beats, which
// follow its write.
wire unused = &{1'b0, s_axis_tuser, kind_valid};

endmodule

`resetall
`default_nettype wire
