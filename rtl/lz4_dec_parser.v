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

// LZ4 block parser. A command is up to OUT_BYTES output bytes: `lit_len` literal bytes
// (carried in the command) followed by `match_len` bytes copied from `offset` bytes back.
//
// Why most sequences cost one cycle: a sequence whose header — token, at most one length
// extension byte for the literals and one for the match, literals of at most OUT_BYTES, the
// offset — lies in the window of 2*OUT_BYTES input bytes is decoded whole in one cycle and
// leaves as one command carrying its literals and as much of its match as fits OUT_BYTES;
// the rest of a long match follows at OUT_BYTES per cycle. Other sequences (long literal
// runs, lengths of 270 and more) take one cycle per extension byte and per OUT_BYTES of
// literals or match.
//
// Bounds: every cycle of a job either consumes an input byte, emits at least one output byte,
// waits for input, or is one of at most two bookkeeping cycles per sequence and two per job,
// so a job ends within 3 * (input bytes) + (output bytes) / OUT_BYTES + 8 cycles of input
// availability, whatever its contents. Errors end the job at once (the rest of the frame is
// discarded at OUT_BYTES bytes per cycle) and are reported in the end command's status.
//
// Job parameters travel on s_axis_tuser with the first beat of the frame:
// [63:0] expected CRC-64 of the raw bytes (passed through), [95:64] expected raw length.
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
    input  wire [95:0]            s_axis_tuser,

    /*
     * Copy commands; an `end` command closes each job with its status
     */
    output wire [OUT_BYTES*8-1:0] m_cmd_literals,
    output wire [LEN_WIDTH-1:0]   m_cmd_lit_len,
    output wire [LEN_WIDTH-1:0]   m_cmd_match_len,
    output wire [15:0]            m_cmd_offset,
    output wire                   m_cmd_end,
    output wire [3:0]             m_cmd_status,
    output wire [31:0]            m_cmd_length,
    output wire [63:0]            m_cmd_crc,
    output wire                   m_cmd_valid,
    input  wire                   m_cmd_ready
);

/* verilator lint_off UNUSEDPARAM */
`include "lz4_dec_status.vh"
/* verilator lint_on UNUSEDPARAM */

localparam WIN_BYTES = 2 * OUT_BYTES;
localparam WIN_COUNT_WIDTH = $clog2(WIN_BYTES + 1);
localparam BEAT_COUNT_WIDTH = $clog2(KEEP_WIDTH + 1);
localparam CHUNKS = KEEP_WIDTH / OUT_BYTES;
localparam CHUNK_INDEX_WIDTH = CHUNKS > 1 ? $clog2(CHUNKS) : 1;
// OUT_BYTES and window limits at the widths they are compared at.
localparam [31:0] OUT_BYTES_32 = OUT_BYTES;
localparam [31:0] TAKE_LIMIT_32 = WIN_BYTES - OUT_BYTES;
localparam [32:0] OUT_BYTES_33 = 33'd0 + OUT_BYTES;
localparam [32:0] HISTORY_SIZE_33 = 33'd0 + HISTORY_SIZE;
localparam [BEAT_COUNT_WIDTH:0] OUT_BYTES_BEAT = OUT_BYTES_32[BEAT_COUNT_WIDTH:0];
localparam [WIN_COUNT_WIDTH-1:0] TAKE_LIMIT = TAKE_LIMIT_32[WIN_COUNT_WIDTH-1:0];

initial begin
    if (OUT_BYTES < 8 || (OUT_BYTES & (OUT_BYTES - 1)) != 0 || OUT_BYTES > KEEP_WIDTH) begin
        $error("Error: OUT_BYTES must be a power of two in 8..KEEP_WIDTH (instance %m)");
        $finish;
    end
    if (KEEP_WIDTH * 8 != DATA_WIDTH || KEEP_WIDTH % OUT_BYTES != 0) begin
        $error("Error: DATA_WIDTH must be a multiple of 8*OUT_BYTES (instance %m)");
        $finish;
    end
    if (HISTORY_SIZE > 65536 || (HISTORY_SIZE & (HISTORY_SIZE - 1)) != 0) begin
        $error("Error: HISTORY_SIZE must be a power of two up to 65536 (instance %m)");
        $finish;
    end
end

localparam [3:0]
    STATE_IDLE = 4'd0,
    STATE_TOKEN = 4'd1,
    STATE_LIT_EXT = 4'd2,
    STATE_LIT = 4'd3,
    STATE_OFFSET = 4'd4,
    STATE_MATCH_EXT = 4'd5,
    STATE_MATCH = 4'd6,
    STATE_END = 4'd7,
    STATE_ERROR = 4'd8,
    STATE_DRAIN = 4'd9;

/*
 * Input beat, handed to the window OUT_BYTES at a time
 */

reg [DATA_WIDTH-1:0]        beat_data_reg = {DATA_WIDTH{1'b0}};
reg [BEAT_COUNT_WIDTH-1:0]  beat_bytes_reg = {BEAT_COUNT_WIDTH{1'b0}};
reg [CHUNK_INDEX_WIDTH-1:0] beat_chunk_reg = {CHUNK_INDEX_WIDTH{1'b0}};
reg                         beat_last_reg = 1'b0;
reg [95:0]                  beat_user_reg = 96'd0;
reg                         beat_valid_reg = 1'b0;

// Bytes of a contiguous tkeep: the index of its highest set bit, plus one.
reg [BEAT_COUNT_WIDTH-1:0] s_beat_bytes;
integer keep_lane;
always @* begin
    s_beat_bytes = {BEAT_COUNT_WIDTH{1'b0}};
    for (keep_lane = 0; keep_lane < KEEP_WIDTH; keep_lane = keep_lane + 1) begin
        if (s_axis_tkeep[keep_lane]) begin
            s_beat_bytes = keep_lane[BEAT_COUNT_WIDTH-1:0] + 1'b1;
        end
    end
end

wire [BEAT_COUNT_WIDTH:0] chunk_start = {{(BEAT_COUNT_WIDTH+1-CHUNK_INDEX_WIDTH){1'b0}}, beat_chunk_reg} * OUT_BYTES_BEAT;
wire [BEAT_COUNT_WIDTH:0] beat_left = {1'b0, beat_bytes_reg} - chunk_start;
wire                      chunk_final = beat_left <= OUT_BYTES_BEAT;
wire [LEN_WIDTH-1:0]      chunk_bytes = chunk_final ? beat_left[LEN_WIDTH-1:0] : OUT_BYTES[LEN_WIDTH-1:0];
wire                      chunk_frame_last = beat_last_reg && chunk_final;

reg [OUT_BYTES*8-1:0] chunk_data;
integer chunk_lane;
always @* begin
    chunk_data = beat_data_reg[beat_chunk_reg*OUT_BYTES*8 +: OUT_BYTES*8];
    for (chunk_lane = 0; chunk_lane < OUT_BYTES; chunk_lane = chunk_lane + 1) begin
        if (chunk_lane >= chunk_bytes) begin
            chunk_data[chunk_lane*8 +: 8] = 8'd0;
        end
    end
end

/*
 * Parser state
 */

reg [3:0]                 state_reg = STATE_IDLE, state_next;
reg [WIN_BYTES*8-1:0]     win_reg = {WIN_BYTES*8{1'b0}}, win_next;
reg [WIN_COUNT_WIDTH-1:0] avail_reg = {WIN_COUNT_WIDTH{1'b0}}, avail_next;
reg                       in_ended_reg = 1'b0, in_ended_next;
reg [32:0]                pos_reg = 33'd0, pos_next;
reg [32:0]                raw_len_reg = 33'd0, raw_len_next;
reg [63:0]                crc_reg = 64'd0, crc_next;
reg [32:0]                lit_rem_reg = 33'd0, lit_rem_next;
reg [32:0]                match_rem_reg = 33'd0, match_rem_next;
reg [3:0]                 match_nibble_reg = 4'd0, match_nibble_next;
reg [15:0]                offset_reg = 16'd0, offset_next;
reg [3:0]                 status_reg = LZ4_OK, status_next;

// Command outputs (combinational from the registers above).
reg [OUT_BYTES*8-1:0] cmd_literals;
reg [LEN_WIDTH-1:0]   cmd_lit_len;
reg [LEN_WIDTH-1:0]   cmd_match_len;
reg [15:0]            cmd_offset;
reg                   cmd_end;
reg [3:0]             cmd_status;
reg                   cmd_valid;

assign m_cmd_literals = cmd_literals;
assign m_cmd_lit_len = cmd_lit_len;
assign m_cmd_match_len = cmd_match_len;
assign m_cmd_offset = cmd_offset;
assign m_cmd_end = cmd_end;
assign m_cmd_status = cmd_status;
assign m_cmd_length = pos_reg[31:0];
assign m_cmd_crc = crc_reg;
assign m_cmd_valid = cmd_valid;

// A chunk enters the window whenever it fits, whatever this cycle consumes: the decision
// depends on registers only, so no path runs from m_cmd_ready to s_axis_tready.
wire in_job = state_reg != STATE_IDLE;
wire take_chunk = beat_valid_reg && in_job && !in_ended_reg
    && avail_reg <= TAKE_LIMIT;

assign s_axis_tready = !beat_valid_reg || (take_chunk && chunk_final);

/*
 * Fields at the head of the window
 */

wire [7:0]  head = win_reg[7:0];
wire [3:0]  token_lit = head[7:4];
wire [3:0]  token_match = head[3:0];
wire [15:0] head_offset = win_reg[15:0];
// Header of a sequence decoded in one cycle (the fast path). A literal count with an
// extension byte is at least 15, so it can take the fast path only when OUT_BYTES >= 15;
// below that the datapath leaves the extension out (shallower logic in the narrow engine).
localparam  FAST_LIT_EXT = OUT_BYTES >= 15;
wire        fast_lit_ext = FAST_LIT_EXT && token_lit == 4'd15;
wire        fast_match_ext = token_match == 4'd15;
wire [7:0]  fast_lit_ext_byte = win_reg[15:8];
// Literal count and where the literals start (after the token and its extension byte).
wire [8:0]  fast_lit_len = {5'd0, token_lit} + (fast_lit_ext ? {1'b0, fast_lit_ext_byte} : 9'd0);
wire [31:0] fast_lit_start = fast_lit_ext ? 32'd2 : 32'd1;
wire [31:0] fast_offset_at = fast_lit_start + {23'd0, fast_lit_len};
wire [WIN_BYTES*8+23:0] win_padded = {24'd0, win_reg};
// Offset and match extension byte follow the literals (valid when fast_fits).
wire [15:0] fast_offset = win_padded[fast_offset_at[WIN_COUNT_WIDTH-1:0]*8 +: 16];
wire [7:0]  fast_match_ext_byte = win_padded[fast_offset_at[WIN_COUNT_WIDTH-1:0]*8 + 16 +: 8];
wire [31:0] fast_header_end = fast_offset_at + 32'd2 + {31'd0, fast_match_ext};
wire [32:0] fast_lit_wide = {24'd0, fast_lit_len};
wire [32:0] fast_match_len = {29'd0, token_match} + 33'd4
    + (fast_match_ext ? {25'd0, fast_match_ext_byte} : 33'd0);
// Match bytes that travel with the literals; the rest goes through STATE_MATCH.
wire [32:0] fast_room = OUT_BYTES_33 - fast_lit_wide;
wire [32:0] fast_match_first = fast_match_len < fast_room ? fast_match_len : fast_room;
wire [31:0] avail_32 = {{(32-WIN_COUNT_WIDTH){1'b0}}, avail_reg};
wire        fast_fits = avail_reg != 0
    && (!fast_lit_ext || (avail_32 >= 32'd2 && fast_lit_ext_byte != 8'd255))
    && fast_lit_len <= OUT_BYTES_33[8:0]
    && avail_32 >= fast_header_end
    && (!fast_match_ext || fast_match_ext_byte != 8'd255);

wire [32:0] token_lit_wide = {29'd0, token_lit};

// Offset checks: zero, before the start of the output, beyond the history kept.
function [3:0] offset_status(input [15:0] offset, input [32:0] position);
    begin
        if (offset == 16'd0) begin
            offset_status = LZ4_ERR_OFFSET_ZERO;
        end else if ({17'd0, offset} > position) begin
            offset_status = LZ4_ERR_OFFSET_RANGE;
        end else if ({17'd0, offset} >= HISTORY_SIZE_33) begin
            offset_status = LZ4_ERR_HISTORY;
        end else begin
            offset_status = LZ4_OK;
        end
    end
endfunction

wire [3:0] fast_offset_status = offset_status(fast_offset, pos_reg + fast_lit_wide);
wire [3:0] head_offset_status = offset_status(head_offset, pos_reg);

wire [32:0] lit_step = lit_rem_reg < OUT_BYTES_33 ? lit_rem_reg : OUT_BYTES_33;
wire [32:0] avail_wide = {{(33-WIN_COUNT_WIDTH){1'b0}}, avail_reg};
wire [32:0] lit_chunk = lit_step < avail_wide ? lit_step : avail_wide;
wire [32:0] match_chunk = match_rem_reg < OUT_BYTES_33 ? match_rem_reg : OUT_BYTES_33;
wire [32:0] lit_ext_total = lit_rem_reg + {25'd0, head};
wire [32:0] match_ext_total = match_rem_reg + {25'd0, head};
wire [33:0] room = {1'b0, raw_len_reg} - {1'b0, pos_reg};

reg [WIN_COUNT_WIDTH-1:0] consumed;
reg                       flush;

always @* begin
    state_next = state_reg;
    pos_next = pos_reg;
    raw_len_next = raw_len_reg;
    crc_next = crc_reg;
    lit_rem_next = lit_rem_reg;
    match_rem_next = match_rem_reg;
    match_nibble_next = match_nibble_reg;
    offset_next = offset_reg;
    status_next = status_reg;
    consumed = {WIN_COUNT_WIDTH{1'b0}};
    flush = 1'b0;

    cmd_literals = win_reg[OUT_BYTES*8-1:0];
    cmd_lit_len = {LEN_WIDTH{1'b0}};
    cmd_match_len = {LEN_WIDTH{1'b0}};
    cmd_offset = offset_reg;
    cmd_end = 1'b0;
    cmd_status = status_reg;
    cmd_valid = 1'b0;

    case (state_reg)
        STATE_IDLE: begin
            if (beat_valid_reg) begin
                crc_next = beat_user_reg[63:0];
                raw_len_next = {1'b0, beat_user_reg[95:64]};
                pos_next = 33'd0;
                status_next = LZ4_OK;
                state_next = STATE_TOKEN;
            end
        end
        STATE_TOKEN: begin
            if (avail_reg == 0) begin
                if (in_ended_reg) begin
                    status_next = LZ4_ERR_TRUNCATED;
                    state_next = STATE_ERROR;
                end
            end else if (fast_fits) begin
                // The whole header in one cycle; the literals and the match's first bytes
                // leave as one command. The window moves on whether or not the checks pass
                // (a failed one flushes it next cycle), so they stay out of the window's loop.
                if (m_cmd_ready) begin
                    consumed = fast_header_end[WIN_COUNT_WIDTH-1:0];
                end
                if (fast_offset_status != LZ4_OK) begin
                    status_next = fast_offset_status;
                    state_next = STATE_ERROR;
                end else if ({1'b0, fast_lit_wide + fast_match_len} > room) begin
                    status_next = LZ4_ERR_OVERRUN;
                    state_next = STATE_ERROR;
                end else begin
                    cmd_literals = fast_lit_ext ? win_reg[16 +: OUT_BYTES*8] : win_reg[8 +: OUT_BYTES*8];
                    cmd_lit_len = fast_lit_wide[LEN_WIDTH-1:0];
                    cmd_match_len = fast_match_first[LEN_WIDTH-1:0];
                    cmd_offset = fast_offset;
                    cmd_valid = 1'b1;
                    if (m_cmd_ready) begin
                        pos_next = pos_reg + fast_lit_wide + fast_match_first;
                        offset_next = fast_offset;
                        match_rem_next = fast_match_len - fast_match_first;
                        if (fast_match_len != fast_match_first) begin
                            state_next = STATE_MATCH;
                        end
                    end
                end
            end else begin
                consumed = 1;
                lit_rem_next = token_lit_wide;
                match_nibble_next = token_match;
                if (token_lit == 4'd15) begin
                    state_next = STATE_LIT_EXT;
                end else if ({1'b0, token_lit_wide} > room) begin
                    status_next = LZ4_ERR_OVERRUN;
                    state_next = STATE_ERROR;
                end else begin
                    state_next = STATE_LIT;
                end
            end
        end
        STATE_LIT_EXT: begin
            if (avail_reg == 0) begin
                if (in_ended_reg) begin
                    status_next = LZ4_ERR_TRUNCATED;
                    state_next = STATE_ERROR;
                end
            end else begin
                consumed = 1;
                lit_rem_next = lit_ext_total;
                if ({1'b0, lit_ext_total} > room) begin
                    status_next = LZ4_ERR_OVERRUN;
                    state_next = STATE_ERROR;
                end else if (head != 8'd255) begin
                    state_next = STATE_LIT;
                end
            end
        end
        STATE_LIT: begin
            if (lit_rem_reg == 0) begin
                // After the literals: the end of the input ends the block, else an offset.
                if (avail_reg != 0) begin
                    state_next = STATE_OFFSET;
                end else if (in_ended_reg) begin
                    state_next = STATE_END;
                end
            end else if (avail_reg == 0) begin
                if (in_ended_reg) begin
                    status_next = LZ4_ERR_TRUNCATED;
                    state_next = STATE_ERROR;
                end
            end else begin
                cmd_lit_len = lit_chunk[LEN_WIDTH-1:0];
                cmd_valid = 1'b1;
                if (m_cmd_ready) begin
                    consumed = lit_chunk[WIN_COUNT_WIDTH-1:0];
                    lit_rem_next = lit_rem_reg - lit_chunk;
                    pos_next = pos_reg + lit_chunk;
                end
            end
        end
        STATE_OFFSET: begin
            if (avail_reg >= 2) begin
                consumed = 2;
                offset_next = head_offset;
                match_rem_next = {29'd0, match_nibble_reg} + 33'd4;
                if (head_offset_status != LZ4_OK) begin
                    status_next = head_offset_status;
                    state_next = STATE_ERROR;
                end else if (match_nibble_reg == 4'd15) begin
                    state_next = STATE_MATCH_EXT;
                end else if ({30'd0, match_nibble_reg} + 34'd4 > room) begin
                    status_next = LZ4_ERR_OVERRUN;
                    state_next = STATE_ERROR;
                end else begin
                    state_next = STATE_MATCH;
                end
            end else if (in_ended_reg) begin
                status_next = LZ4_ERR_TRUNCATED;
                state_next = STATE_ERROR;
            end
        end
        STATE_MATCH_EXT: begin
            if (avail_reg == 0) begin
                if (in_ended_reg) begin
                    status_next = LZ4_ERR_TRUNCATED;
                    state_next = STATE_ERROR;
                end
            end else begin
                consumed = 1;
                match_rem_next = match_ext_total;
                if ({1'b0, match_ext_total} > room) begin
                    status_next = LZ4_ERR_OVERRUN;
                    state_next = STATE_ERROR;
                end else if (head != 8'd255) begin
                    state_next = STATE_MATCH;
                end
            end
        end
        STATE_MATCH: begin
            cmd_match_len = match_chunk[LEN_WIDTH-1:0];
            cmd_valid = 1'b1;
            if (m_cmd_ready) begin
                match_rem_next = match_rem_reg - match_chunk;
                pos_next = pos_reg + match_chunk;
                if (match_rem_reg == match_chunk) begin
                    state_next = STATE_TOKEN;
                end
            end
        end
        STATE_END: begin
            cmd_end = 1'b1;
            cmd_status = pos_reg == raw_len_reg ? LZ4_OK : LZ4_ERR_SHORT;
            cmd_valid = 1'b1;
            if (m_cmd_ready) begin
                state_next = STATE_IDLE;
            end
        end
        STATE_ERROR: begin
            cmd_end = 1'b1;
            cmd_valid = 1'b1;
            flush = 1'b1;
            if (m_cmd_ready) begin
                state_next = STATE_DRAIN;
            end
        end
        STATE_DRAIN: begin
            // Discards the rest of the frame so the next job starts on its first byte.
            flush = 1'b1;
            if (in_ended_reg && avail_reg == 0) begin
                state_next = STATE_IDLE;
            end
        end
        default: begin
            state_next = STATE_IDLE;
        end
    endcase
end

/*
 * Window: drop what was consumed, append the chunk taken
 */

wire [WIN_COUNT_WIDTH-1:0] avail_kept = flush ? {WIN_COUNT_WIDTH{1'b0}} : avail_reg - consumed;
wire [WIN_BYTES*8-1:0]     win_kept = flush ? {WIN_BYTES*8{1'b0}} : win_reg >> (consumed * 8);
wire [WIN_BYTES*8-1:0]     chunk_wide = {{(WIN_BYTES-OUT_BYTES)*8{1'b0}}, chunk_data};

always @* begin
    win_next = win_kept;
    avail_next = avail_kept;
    in_ended_next = in_ended_reg;
    if (take_chunk) begin
        win_next = win_kept | (chunk_wide << (avail_kept * 8));
        avail_next = avail_kept + {{(WIN_COUNT_WIDTH-LEN_WIDTH){1'b0}}, chunk_bytes};
        in_ended_next = chunk_frame_last;
    end
    if (state_reg == STATE_IDLE) begin
        in_ended_next = 1'b0;
    end
end

always @(posedge clk) begin
    state_reg <= state_next;
    win_reg <= win_next;
    avail_reg <= avail_next;
    in_ended_reg <= in_ended_next;
    pos_reg <= pos_next;
    raw_len_reg <= raw_len_next;
    crc_reg <= crc_next;
    lit_rem_reg <= lit_rem_next;
    match_rem_reg <= match_rem_next;
    match_nibble_reg <= match_nibble_next;
    offset_reg <= offset_next;
    status_reg <= status_next;

    if (s_axis_tvalid && s_axis_tready) begin
        beat_data_reg <= s_axis_tdata;
        beat_bytes_reg <= s_beat_bytes;
        beat_last_reg <= s_axis_tlast;
        beat_user_reg <= s_axis_tuser;
        beat_chunk_reg <= {CHUNK_INDEX_WIDTH{1'b0}};
        beat_valid_reg <= 1'b1;
    end else if (take_chunk) begin
        beat_chunk_reg <= beat_chunk_reg + 1'b1;
        if (chunk_final) begin
            beat_valid_reg <= 1'b0;
        end
    end

    if (rst) begin
        state_reg <= STATE_IDLE;
        avail_reg <= {WIN_COUNT_WIDTH{1'b0}};
        win_reg <= {WIN_BYTES*8{1'b0}};
        in_ended_reg <= 1'b0;
        beat_valid_reg <= 1'b0;
    end
end

endmodule

`resetall
`default_nettype wire
