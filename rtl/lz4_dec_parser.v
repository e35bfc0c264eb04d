/*
 * lzcache — LZ4 block decompressor: sequence parser
 *
 * Turns the bytes of one LZ4 block into copy commands for lz4_dec_copy and checks every
 * field against the block's bounds, so that no malformed block can make the engine hang or
 * write past the expected raw length.
 */

`resetall
`timescale 1ns / 1ps
`default_nettype none

// LZ4 block parser: lz4_dec_scanner (where each sequence starts, one per cycle) feeding
// lz4_dec_checker (its fields, the checks against the output bound, the copy commands).
//
// Why two modules: finding the next sequence is the loop that sets an LZ4 decoder's clock; it
// is kept to a table select by the head position (lz4_dec_scanner). Everything else about a
// sequence — its literal bytes, offset and match length, and the checks that need the output
// position — runs in the stages after it, which no result ever feeds back into.
//
// Most sequences cost one cycle: a sequence whose header — token, at most one length
// extension byte for the literals (wide engines) and one for the match, literals of at most
// OUT_BYTES, the offset — is in the scanner's ring leaves as one command carrying its literals
// and as much of its match as fits OUT_BYTES; the rest of a long match follows at OUT_BYTES
// per cycle. Other sequences take one cycle per extension byte and per OUT_BYTES of literals,
// and two more.
//
// Bounds: every cycle of a job either consumes an input byte, emits at least one output byte,
// waits for input, or is one of at most three bookkeeping cycles per sequence and a dozen per
// job, so a job ends within 3 * (input bytes) + (output bytes) / OUT_BYTES + 16 cycles of input
// availability, whatever its contents. Errors end the job at once (the rest of the frame is
// discarded at OUT_BYTES bytes per cycle) and are reported in the end command's status.
//
// Job parameters travel on s_axis_tuser with the first beat of the frame:
// [63:0] expected CRC-64 of the raw bytes (passed through), [95:64] expected raw length,
// [96] matches may reach into the preset dictionary (`dict_len` bytes; 0 when none is loaded).
module lz4_dec_parser #
(
    // Width of the input stream in bits (a multiple of 8*OUT_BYTES)
    parameter DATA_WIDTH = 512,
    // Width of tkeep: one bit per byte
    parameter KEEP_WIDTH = DATA_WIDTH/8,
    // Output bytes per command (a power of two, 8 or more, at most KEEP_WIDTH)
    parameter OUT_BYTES = 32,
    // Bytes of history the copy engine keeps (a power of two); larger offsets are rejected
    parameter HISTORY_SIZE = 65536,
    // Width of a command's length fields
    parameter LEN_WIDTH = $clog2(OUT_BYTES + 1)
)
(
    input  wire                   clk,
    input  wire                   rst,

    /*
     * LZ4 block input, one block per frame
     */
    input  wire [DATA_WIDTH-1:0]  s_axis_tdata,
    input  wire [KEEP_WIDTH-1:0]  s_axis_tkeep,
    input  wire                   s_axis_tvalid,
    output wire                   s_axis_tready,
    input  wire                   s_axis_tlast,
    input  wire [96:0]            s_axis_tuser,
    // Length of the loaded preset dictionary (0: none)
    input  wire [16:0]            dict_len,

    /*
     * Copy commands; an `end` command closes each job with its status
     */
    output wire [OUT_BYTES*8-1:0] m_cmd_literals,
    output wire [LEN_WIDTH-1:0]   m_cmd_lit_len,
    output wire [LEN_WIDTH-1:0]   m_cmd_match_len,
    output wire [15:0]            m_cmd_offset,
    output wire [15:0]            m_cmd_back,
    output wire                   m_cmd_end,
    output wire [3:0]             m_cmd_status,
    output wire [31:0]            m_cmd_length,
    output wire [63:0]            m_cmd_crc,
    output wire                   m_cmd_valid,
    input  wire                   m_cmd_ready
);

// A one-cycle header: token, literal extension, OUT_BYTES literals, offset, match extension.
localparam VIEW_BYTES = OUT_BYTES + 5;
// Descriptors in flight between the scanner's decision and the checker's FIFO head (the
// round trip is five cycles; the rest absorbs long matches).
localparam CREDITS = 8;

wire [2:0]              desc_kind;
wire [VIEW_BYTES*8-1:0] desc_view;
wire [LEN_WIDTH-1:0]    desc_count;
wire [15:0]             desc_offset;
wire [32:0]             desc_match_len;
wire                    desc_valid;
wire                    desc_pop;
wire [31:0]             job_raw_len;
wire [63:0]             job_crc;
wire                    job_dict;
wire                    job_open;
wire                    job_drained;
wire                    job_waiting;
wire                    abort;
wire                    done;

lz4_dec_scanner #(
    .DATA_WIDTH(DATA_WIDTH),
    .KEEP_WIDTH(KEEP_WIDTH),
    .OUT_BYTES(OUT_BYTES),
    .VIEW_BYTES(VIEW_BYTES),
    .CREDITS(CREDITS),
    .LEN_WIDTH(LEN_WIDTH)
)
scanner (
    .clk(clk),
    .rst(rst),
    .s_axis_tdata(s_axis_tdata),
    .s_axis_tkeep(s_axis_tkeep),
    .s_axis_tvalid(s_axis_tvalid),
    .s_axis_tready(s_axis_tready),
    .s_axis_tlast(s_axis_tlast),
    .s_axis_tuser(s_axis_tuser),
    .m_desc_kind(desc_kind),
    .m_desc_view(desc_view),
    .m_desc_count(desc_count),
    .m_desc_offset(desc_offset),
    .m_desc_match_len(desc_match_len),
    .m_desc_valid(desc_valid),
    .m_desc_pop(desc_pop),
    .job_raw_len(job_raw_len),
    .job_crc(job_crc),
    .job_dict(job_dict),
    .job_open(job_open),
    .job_drained(job_drained),
    .job_waiting(job_waiting),
    .abort(abort),
    .done(done)
);

lz4_dec_checker #(
    .OUT_BYTES(OUT_BYTES),
    .VIEW_BYTES(VIEW_BYTES),
    .HISTORY_SIZE(HISTORY_SIZE),
    .CREDITS(CREDITS),
    .LEN_WIDTH(LEN_WIDTH)
)
bound_check (
    .clk(clk),
    .rst(rst),
    .s_desc_kind(desc_kind),
    .s_desc_view(desc_view),
    .s_desc_count(desc_count),
    .s_desc_offset(desc_offset),
    .s_desc_match_len(desc_match_len),
    .s_desc_valid(desc_valid),
    .s_desc_pop(desc_pop),
    .job_raw_len(job_raw_len),
    .job_crc(job_crc),
    .job_dict_len(job_dict ? dict_len : 17'd0),
    .job_open(job_open),
    .job_drained(job_drained),
    .job_waiting(job_waiting),
    .abort(abort),
    .done(done),
    .m_cmd_literals(m_cmd_literals),
    .m_cmd_lit_len(m_cmd_lit_len),
    .m_cmd_match_len(m_cmd_match_len),
    .m_cmd_offset(m_cmd_offset),
    .m_cmd_back(m_cmd_back),
    .m_cmd_end(m_cmd_end),
    .m_cmd_status(m_cmd_status),
    .m_cmd_length(m_cmd_length),
    .m_cmd_crc(m_cmd_crc),
    .m_cmd_valid(m_cmd_valid),
    .m_cmd_ready(m_cmd_ready)
);

endmodule

`resetall
`default_nettype wire
