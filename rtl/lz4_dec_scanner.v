/*
 * lzcache — LZ4 block decompressor: sequence scanner
 *
 * Finds where each sequence of an LZ4 block starts and hands the bytes of its header to
 * lz4_dec_checker as a descriptor, one sequence per cycle, with nothing but a table lookup in
 * the loop that moves from one sequence to the next.
 */

`resetall
`timescale 1ns / 1ps
`default_nettype none

// LZ4 sequence scanner.
//
// Why a ring and a table: the loop that limits an LZ4 decoder's clock is "where does the next
// sequence start", which depends on the token (and, in the wide engine, one literal-length
// extension byte) of the current one. Input bytes go into a ring of 4*OUT_BYTES bytes at
// their stream position and are never shifted. Every cycle, for every ring position, a
// registered table says what a sequence starting there would be: decodable whole in one cycle
// (`go`: literals of at most OUT_BYTES, at most one extension byte per length, all header
// bytes present), to be taken apart byte by byte (`slow`), or not yet known (bytes missing);
// and, for `go`, where the next sequence starts. The loop is then a select from that table by
// the head position. The table is one cycle behind the ring, so it is read against the ring's
// fill of the previous cycle; a write never lands on a byte at or after the head.
//
// A `go` sequence leaves as one DESC_FAST descriptor. Other sequences are walked as LZ4 is
// written — token, literal-length bytes, literals (DESC_LIT, up to OUT_BYTES per cycle),
// offset, match-length bytes, then DESC_MATCH — and the block's end as DESC_END or, when the
// input ends inside a sequence, DESC_ERR (a truncation, the only error found here). Descriptors carry a view of the ring from the
// sequence's first byte (rotated a cycle after the decision, from the unchanged ring); the
// checker decodes them, checks them against the output bound and emits copy commands.
//
// Flow control: the checker's FIFO has CREDITS entries; a descriptor is issued only while a
// credit is free, so nothing downstream ever pushes back on this loop. When the checker finds
// an error it raises `abort`: the scanner stops, discards the rest of the frame, and waits
// for `done` before it takes the next job's first beat (jobs never overlap in the ring).
//
// Bound: every cycle of a job consumes an input byte, issues a descriptor, waits for input or
// a credit, or is one of at most two bookkeeping cycles per sequence and a few per job.
module lz4_dec_scanner #
(
    // Width of the input stream in bits (a multiple of 8*OUT_BYTES)
    parameter DATA_WIDTH = 512,
    // Width of tkeep: one bit per byte
    parameter KEEP_WIDTH = DATA_WIDTH/8,
    // Output bytes per copy command (a power of two, 8 or more, at most KEEP_WIDTH)
    parameter OUT_BYTES = 32,
    // Ring bytes shown with each descriptor, from its first byte: a whole one-cycle header
    parameter VIEW_BYTES = OUT_BYTES + 5,
    // Descriptors the checker can hold (its FIFO depth)
    parameter CREDITS = 8,
    // Width of a descriptor's byte count
    parameter LEN_WIDTH = $clog2(OUT_BYTES + 1)
)
(
    input  wire                    clk,
    input  wire                    rst,

    /*
     * LZ4 block input, one block per frame; tuser on the first beat: [63:0] expected CRC,
     * [95:64] expected raw length, [96] matches may reach into the preset dictionary
     */
    input  wire [DATA_WIDTH-1:0]   s_axis_tdata,
    input  wire [KEEP_WIDTH-1:0]   s_axis_tkeep,
    input  wire                    s_axis_tvalid,
    output wire                    s_axis_tready,
    input  wire                    s_axis_tlast,
    input  wire [96:0]             s_axis_tuser,

    /*
     * Descriptors (lz4_dec_desc.vh), valid for one cycle each; m_desc_pop returns a credit
     */
    output wire [2:0]              m_desc_kind,
    output wire [VIEW_BYTES*8-1:0] m_desc_view,
    output wire [LEN_WIDTH-1:0]    m_desc_count,
    output wire [15:0]             m_desc_offset,
    output wire [32:0]             m_desc_match_len,
    output wire                    m_desc_valid,
    input  wire                    m_desc_pop,

    /*
     * The job being scanned, and the handshake with the checker
     */
    output wire [31:0]             job_raw_len,
    output wire [63:0]             job_crc,
    output wire                    job_dict,
    output wire                    job_open,
    output wire                    job_drained,
    output wire                    job_waiting,
    input  wire                    abort,
    input  wire                    done
);

/* verilator lint_off UNUSEDPARAM */
`include "lz4_dec_desc.vh"
/* verilator lint_on UNUSEDPARAM */

localparam RING_BYTES = 4 * OUT_BYTES;
localparam RING_WIDTH = $clog2(RING_BYTES);
// Ring positions carry one lap bit above the byte index, so fill = write - head.
localparam POS_WIDTH = RING_WIDTH + 1;
localparam BEAT_COUNT_WIDTH = $clog2(KEEP_WIDTH + 1);
localparam CHUNKS = KEEP_WIDTH / OUT_BYTES;
localparam CHUNK_INDEX_WIDTH = CHUNKS > 1 ? $clog2(CHUNKS) : 1;
localparam CREDIT_WIDTH = $clog2(CREDITS + 1);
// Header length of a sequence (token, literal extension, literals, offset, match extension),
// wide enough for any token and extension byte, valid or not.
localparam HL_WIDTH = 10;
// A literal count with an extension byte is at least 15, so the one-cycle header includes the
// extension only when OUT_BYTES >= 15 (the narrow engine's table is shallower without it).
localparam FAST_LIT_EXT = OUT_BYTES >= 15;
localparam [31:0] OUT_BYTES_32 = OUT_BYTES;
localparam [31:0] RING_BYTES_32 = RING_BYTES;
localparam [31:0] CREDITS_32 = CREDITS;
localparam [BEAT_COUNT_WIDTH:0] OUT_BYTES_BEAT = OUT_BYTES_32[BEAT_COUNT_WIDTH:0];
localparam [POS_WIDTH-1:0] ROOM_LIMIT = RING_BYTES_32[POS_WIDTH-1:0] - 2 * OUT_BYTES_32[POS_WIDTH-1:0] - 1'b1;
localparam [CREDIT_WIDTH-1:0] CREDITS_FULL = CREDITS_32[CREDIT_WIDTH-1:0];

initial begin
    if (OUT_BYTES < 8 || (OUT_BYTES & (OUT_BYTES - 1)) != 0 || OUT_BYTES > KEEP_WIDTH) begin
        $error("Error: OUT_BYTES must be a power of two in 8..KEEP_WIDTH (instance %m)");
        $finish;
    end
    if (KEEP_WIDTH * 8 != DATA_WIDTH || KEEP_WIDTH % OUT_BYTES != 0) begin
        $error("Error: DATA_WIDTH must be a multiple of 8*OUT_BYTES (instance %m)");
        $finish;
    end
    if (VIEW_BYTES < OUT_BYTES + 5 || VIEW_BYTES > RING_BYTES) begin
        $error("Error: VIEW_BYTES must hold a one-cycle header (instance %m)");
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
    STATE_DRAIN = 4'd7,
    STATE_WAIT = 4'd8;

/*
 * Input beat, handed to the ring OUT_BYTES at a time
 */

reg [DATA_WIDTH-1:0]        beat_data_reg = {DATA_WIDTH{1'b0}};
reg [BEAT_COUNT_WIDTH-1:0]  beat_bytes_reg = {BEAT_COUNT_WIDTH{1'b0}};
reg [CHUNK_INDEX_WIDTH-1:0] beat_chunk_reg = {CHUNK_INDEX_WIDTH{1'b0}};
reg                         beat_last_reg = 1'b0;
reg [96:0]                  beat_user_reg = 97'd0;
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
wire [OUT_BYTES*8-1:0]    chunk_data = beat_data_reg[beat_chunk_reg*OUT_BYTES*8 +: OUT_BYTES*8];

/*
 * Scanner state
 */

reg [3:0]                state_reg = STATE_IDLE, state_next;
reg [RING_BYTES*8-1:0]   ring_reg = {RING_BYTES*8{1'b0}}, ring_next;
reg [POS_WIDTH-1:0]      wr_reg = {POS_WIDTH{1'b0}}, wr_next;
reg [POS_WIDTH-1:0]      head_reg = {POS_WIDTH{1'b0}}, head_next;
reg                      in_ended_reg = 1'b0, in_ended_next;
reg [31:0]               raw_len_reg = 32'd0, raw_len_next;
reg [63:0]               crc_reg = 64'd0, crc_next;
reg                      dict_reg = 1'b0, dict_next;
reg [32:0]               lit_rem_reg = 33'd0, lit_rem_next;
reg [32:0]               match_rem_reg = 33'd0, match_rem_next;
reg [3:0]                match_nibble_reg = 4'd0, match_nibble_next;
reg [15:0]               offset_reg = 16'd0, offset_next;
reg [CREDIT_WIDTH-1:0]   credits_reg = CREDITS_FULL;

// Issued descriptor (stage 1: the ring is rotated to it in the next cycle).
reg                      issue_valid_reg = 1'b0, issue_valid_next;
reg [2:0]                issue_kind_reg = DESC_FAST, issue_kind_next;
reg [RING_WIDTH-1:0]     issue_at_reg = {RING_WIDTH{1'b0}}, issue_at_next;
reg [LEN_WIDTH-1:0]      issue_count_reg = {LEN_WIDTH{1'b0}}, issue_count_next;
reg [15:0]               issue_offset_reg = 16'd0, issue_offset_next;
reg [32:0]               issue_match_len_reg = 33'd0, issue_match_len_next;

// Descriptor out (stage 2).
reg                      desc_valid_reg = 1'b0;
reg [2:0]                desc_kind_reg = DESC_FAST;
reg [VIEW_BYTES*8-1:0]   desc_view_reg = {VIEW_BYTES*8{1'b0}};
reg [LEN_WIDTH-1:0]      desc_count_reg = {LEN_WIDTH{1'b0}};
reg [15:0]               desc_offset_reg = 16'd0;
reg [32:0]               desc_match_len_reg = 33'd0;

assign m_desc_kind = desc_kind_reg;
assign m_desc_view = desc_view_reg;
assign m_desc_count = desc_count_reg;
assign m_desc_offset = desc_offset_reg;
assign m_desc_match_len = desc_match_len_reg;
assign m_desc_valid = desc_valid_reg;

assign job_raw_len = raw_len_reg;
assign job_crc = crc_reg;
assign job_dict = dict_reg;
assign job_open = state_reg != STATE_IDLE && state_reg != STATE_WAIT;
assign job_drained = credits_reg == CREDITS_FULL;
assign job_waiting = state_reg == STATE_WAIT;

// Bytes in the ring from the head on. A chunk is taken while the ring keeps one spare byte
// after it (so a fill never reaches RING_BYTES and a position's distance to the write
// pointer is exact modulo the ring). The room is judged from last cycle's fill, less the
// chunk that may have been taken since (the head only frees bytes): a flip-flop, so that
// s_axis_tready and the beat register's enable do not wait on the head's arithmetic.
wire [POS_WIDTH-1:0] fill = wr_reg - head_reg;
reg                  room_reg = 1'b1;
wire take_chunk = beat_valid_reg && job_open && !in_ended_reg && room_reg;

assign s_axis_tready = !beat_valid_reg || (take_chunk && chunk_final);

/*
 * The table: what a sequence starting at each ring position would be, one cycle behind
 */

reg [RING_BYTES-1:0]            go_reg = {RING_BYTES{1'b0}};
reg [RING_BYTES-1:0]            slow_reg = {RING_BYTES{1'b0}};
reg [RING_BYTES-1:0]            lap_reg = {RING_BYTES{1'b0}};
reg [RING_BYTES*RING_WIDTH-1:0] next_reg = {RING_BYTES*RING_WIDTH{1'b0}};

genvar at;
genvar view_byte;
generate
    for (at = 0; at < RING_BYTES; at = at + 1) begin : table_entry
        // Ring bytes from this position on, wrapping (wiring only).
        wire [VIEW_BYTES*8-1:0]   bytes;
        for (view_byte = 0; view_byte < VIEW_BYTES; view_byte = view_byte + 1) begin : wrap
            assign bytes[view_byte*8 +: 8] = ring_reg[((at + view_byte) % RING_BYTES)*8 +: 8];
        end
        wire [3:0]                lit_nibble = bytes[7:4];
        wire [3:0]                match_nibble = bytes[3:0];
        wire                      lit_ext = FAST_LIT_EXT && lit_nibble == 4'd15;
        wire [8:0]                lit_len = lit_ext ? 9'd15 + {1'b0, bytes[15:8]} : {5'd0, lit_nibble};
        wire                      match_ext = match_nibble == 4'd15;
        // Literals that fit one command, known once the token (and its extension byte) is in:
        // a longer run is walked byte by byte without waiting for a header that cannot fit.
        wire                      lit_fits = lit_len <= OUT_BYTES_32[8:0];
        reg  [7:0]                match_ext_byte;
        integer                   skip;
        always @* begin
            // The byte after the offset, for every literal count that fits a command.
            match_ext_byte = 8'd0;
            for (skip = 0; skip <= OUT_BYTES + 1; skip = skip + 1) begin
                if ({9'd0, lit_ext} + {1'b0, lit_len} == skip[9:0]) begin
                    match_ext_byte = bytes[(skip + 3)*8 +: 8];
                end
            end
        end
        wire                      match_long = match_ext && match_ext_byte == 8'd255;
        wire [HL_WIDTH-1:0]       header_len = 10'd3 + {9'd0, lit_ext} + {1'b0, lit_len} + {9'd0, match_ext};
        // Bytes present from here (exact: the fill stays below RING_BYTES).
        wire [RING_WIDTH-1:0]     at_index = at;
        wire [RING_WIDTH-1:0]     present = wr_reg[RING_WIDTH-1:0] - at_index;
        wire                      whole = header_len <= {{(HL_WIDTH-RING_WIDTH){1'b0}}, present};
        wire                      go = whole && lit_fits && !match_long;
        wire                      lit_known = present > {{(RING_WIDTH-1){1'b0}}, lit_ext};
        wire                      slow = present != 0
            && (whole ? !go : (in_ended_reg || (lit_known && !lit_fits)));
        wire [RING_WIDTH:0]       next_at = {1'b0, at_index} + header_len[RING_WIDTH:0];

        always @(posedge clk) begin
            go_reg[at] <= go;
            slow_reg[at] <= slow;
            lap_reg[at] <= next_at[RING_WIDTH];
            next_reg[at*RING_WIDTH +: RING_WIDTH] <= next_at[RING_WIDTH-1:0];
        end
    end
endgenerate

/*
 * The loop: one table select per sequence
 */

wire [RING_WIDTH-1:0] head_index = head_reg[RING_WIDTH-1:0];
wire                  head_go = go_reg[head_index];
wire                  head_slow = slow_reg[head_index];
wire                  head_lap = lap_reg[head_index];
wire [RING_WIDTH-1:0] head_next_at = next_reg[head_index*RING_WIDTH +: RING_WIDTH];
wire [7:0]            head_byte = ring_reg[head_index*8 +: 8];
wire [RING_WIDTH-1:0] head_index_1 = head_index + 1'b1;
wire [7:0]            head_byte_1 = ring_reg[head_index_1*8 +: 8];
// The extension byte under the head in STATE_LIT_EXT and STATE_MATCH_EXT, from a register:
// those states add it to a 33-bit count and work out the next literal step from it, and
// behind a byte select by the head index that was the scanner's longest path. It is read a
// cycle ahead, at the position the head moves to, from the ring as it stands or the chunk
// being written; `ext_ready_reg` says it was there. (Read from the ring after this cycle's
// write instead, the select sat behind the write's lane arithmetic: 66.7 MHz.)
reg  [7:0]            ext_byte_reg = 8'd0;
reg                   ext_ready_reg = 1'b0;
wire [3:0]            token_lit = head_byte[7:4];
wire [3:0]            token_match = head_byte[3:0];
wire                  credit = credits_reg != 0;

// Literals taken in one cycle of a long run: OUT_BYTES, or the run's rest. They are taken
// once all are in the ring (the ring then only gates the step, it does not size it); when
// the input has ended short of them the block is truncated. The step is a register, set
// with the run's count: derived from the 33-bit count in the same cycle, it put a wide OR and
// a mux in front of the ring compare that moves the head.
localparam OUT_SHIFT = $clog2(OUT_BYTES);
reg  [LEN_WIDTH-1:0] lit_step_reg = {LEN_WIDTH{1'b0}};
wire [LEN_WIDTH-1:0] lit_step = lit_step_reg;
wire [POS_WIDTH-1:0] lit_step_pos = {{(POS_WIDTH-LEN_WIDTH){1'b0}}, lit_step};
reg  [LEN_WIDTH-1:0] lit_step_next;
// The next step for each way the count changes, from registers (and the head byte) only, so
// that the head's own decisions are just the final select.
function [LEN_WIDTH-1:0] step_of(input big, input [LEN_WIDTH-1:0] low);
    step_of = big ? OUT_BYTES[LEN_WIDTH-1:0] : low;
endfunction
wire [32:0]          lit_rem_taken = lit_rem_reg - {{(33-LEN_WIDTH){1'b0}}, lit_step_reg};
wire [LEN_WIDTH-1:0] step_after_take = step_of(|lit_rem_taken[32:OUT_SHIFT], lit_rem_taken[LEN_WIDTH-1:0]);
// An extension byte added: the high part of the count decides alone unless it is zero.
wire [8:0]           ext_low_sum = {1'b0, ext_byte_reg} + {{(9-OUT_SHIFT){1'b0}}, lit_rem_reg[OUT_SHIFT-1:0]};
wire [LEN_WIDTH-1:0] step_after_ext = step_of(|lit_rem_reg[32:OUT_SHIFT] || |ext_low_sum[8:OUT_SHIFT],
                                              ext_low_sum[LEN_WIDTH-1:0]);
wire [LEN_WIDTH+3:0] token_lit_wide = {{LEN_WIDTH{1'b0}}, token_lit};
wire [LEN_WIDTH-1:0] step_of_token = step_of(token_lit_wide >= OUT_BYTES[LEN_WIDTH+3:0],
                                             token_lit_wide[LEN_WIDTH-1:0]);
wire                 lit_in_ring = fill >= lit_step_pos;
wire        parsing = job_open && state_reg != STATE_DRAIN;
// The input ended inside the sequence being walked.
reg         truncated;

always @* begin
    state_next = state_reg;
    head_next = head_reg;
    raw_len_next = raw_len_reg;
    crc_next = crc_reg;
    dict_next = dict_reg;
    lit_rem_next = lit_rem_reg;
    lit_step_next = lit_step_reg;
    match_rem_next = match_rem_reg;
    match_nibble_next = match_nibble_reg;
    offset_next = offset_reg;

    issue_valid_next = 1'b0;
    issue_kind_next = DESC_FAST;
    issue_at_next = head_index;
    issue_count_next = {LEN_WIDTH{1'b0}};
    issue_offset_next = offset_reg;
    issue_match_len_next = match_rem_reg;
    truncated = 1'b0;

    case (state_reg)
        STATE_IDLE: begin
            if (beat_valid_reg) begin
                crc_next = beat_user_reg[63:0];
                raw_len_next = beat_user_reg[95:64];
                dict_next = beat_user_reg[96];
                state_next = STATE_TOKEN;
            end
        end
        STATE_TOKEN: begin
            if (head_go) begin
                if (credit) begin
                    issue_valid_next = 1'b1;
                    head_next = {head_reg[RING_WIDTH] ^ head_lap, head_next_at};
                end
            end else if (head_slow) begin
                head_next = head_reg + 1'b1;
                lit_rem_next = {29'd0, token_lit};
                lit_step_next = step_of_token;
                match_nibble_next = token_match;
                state_next = token_lit == 4'd15 ? STATE_LIT_EXT : STATE_LIT;
            end else if (fill == 0) begin
                truncated = in_ended_reg;
            end
        end
        STATE_LIT_EXT: begin
            if (ext_ready_reg) begin
                head_next = head_reg + 1'b1;
                lit_rem_next = lit_rem_reg + {25'd0, ext_byte_reg};
                lit_step_next = step_after_ext;
                if (ext_byte_reg != 8'd255) begin
                    state_next = STATE_LIT;
                end
            end else if (fill == 0) begin
                truncated = in_ended_reg;
            end
        end
        STATE_LIT: begin
            if (lit_step == 0) begin
                // After the literals: the end of the input ends the block, else an offset.
                if (fill != 0) begin
                    state_next = STATE_OFFSET;
                end else if (in_ended_reg && credit) begin
                    issue_valid_next = 1'b1;
                    issue_kind_next = DESC_END;
                    state_next = STATE_WAIT;
                end
            end else if (lit_in_ring) begin
                if (credit) begin
                    issue_valid_next = 1'b1;
                    issue_kind_next = DESC_LIT;
                    issue_count_next = lit_step;
                    head_next = head_reg + lit_step_pos;
                    lit_rem_next = lit_rem_taken;
                    lit_step_next = step_after_take;
                end
            end else begin
                truncated = in_ended_reg;
            end
        end
        STATE_OFFSET: begin
            if (fill >= 2) begin
                head_next = head_reg + {{(POS_WIDTH-2){1'b0}}, 2'd2};
                offset_next = {head_byte_1, head_byte};
                match_rem_next = {29'd0, match_nibble_reg} + 33'd4;
                state_next = match_nibble_reg == 4'd15 ? STATE_MATCH_EXT : STATE_MATCH;
            end else begin
                truncated = in_ended_reg;
            end
        end
        STATE_MATCH_EXT: begin
            if (ext_ready_reg) begin
                head_next = head_reg + 1'b1;
                match_rem_next = match_rem_reg + {25'd0, ext_byte_reg};
                if (ext_byte_reg != 8'd255) begin
                    state_next = STATE_MATCH;
                end
            end else if (fill == 0) begin
                truncated = in_ended_reg;
            end
        end
        STATE_MATCH: begin
            if (credit) begin
                issue_valid_next = 1'b1;
                issue_kind_next = DESC_MATCH;
                state_next = STATE_TOKEN;
            end
        end
        STATE_DRAIN: begin
            // Discards the rest of the frame so the next job starts on its first byte.
            head_next = wr_reg;
            if (in_ended_reg) begin
                state_next = STATE_WAIT;
            end
        end
        STATE_WAIT: begin
            if (done) begin
                head_next = {POS_WIDTH{1'b0}};
                state_next = STATE_IDLE;
            end
        end
        default: begin
            state_next = STATE_IDLE;
        end
    endcase

    // The input ended inside a sequence: the job ends with LZ4_ERR_TRUNCATED (the checker
    // knows a DESC_ERR by its kind); what is left of the frame is discarded.
    if (truncated && credit) begin
        issue_valid_next = 1'b1;
        issue_kind_next = DESC_ERR;
        state_next = STATE_DRAIN;
    end

    // The checker found an error: this job's remaining bytes are discarded.
    if (abort && parsing) begin
        issue_valid_next = 1'b0;
        state_next = STATE_DRAIN;
    end
end

/*
 * Ring writes: a chunk lands at its stream position, byte by byte
 */

wire [RING_WIDTH-1:0] wr_index = wr_reg[RING_WIDTH-1:0];

reg [RING_WIDTH-1:0] lane_from;
integer              ring_lane;
always @* begin
    lane_from = {RING_WIDTH{1'b0}};
    ring_next = ring_reg;
    wr_next = wr_reg;
    in_ended_next = in_ended_reg;
    for (ring_lane = 0; ring_lane < RING_BYTES; ring_lane = ring_lane + 1) begin
        // Lane ring_lane takes chunk byte (ring_lane - wr) mod RING_BYTES, if it has one.
        lane_from = ring_lane[RING_WIDTH-1:0] - wr_index;
        if (take_chunk && lane_from < {{(RING_WIDTH-LEN_WIDTH){1'b0}}, chunk_bytes}) begin
            ring_next[ring_lane*8 +: 8] = chunk_data[lane_from[LEN_WIDTH-2:0]*8 +: 8];
        end
    end
    if (take_chunk) begin
        wr_next = wr_reg + {{(POS_WIDTH-LEN_WIDTH){1'b0}}, chunk_bytes};
        in_ended_next = chunk_frame_last;
    end
    if (state_reg == STATE_WAIT && done) begin
        wr_next = {POS_WIDTH{1'b0}};
        in_ended_next = 1'b0;
    end
end

// The byte the head stands on next cycle, for the extension states: two bytes on after an
// offset, the same byte while the state waits for it, else the next byte. A byte not yet in
// the ring is the write position's (the head only moves onto bytes the fill covers, so a
// missing byte is always the first one written next): it is taken from the chunk being
// written this cycle, if any, so the states wait only when the ring has run dry.
wire [RING_WIDTH-1:0] head_index_2 = head_index + {{(RING_WIDTH-2){1'b0}}, 2'd2};
wire                  ext_waits = (state_reg == STATE_LIT_EXT || state_reg == STATE_MATCH_EXT)
    && !ext_ready_reg;
wire                  ext_in_ring = state_reg == STATE_OFFSET ? fill > {{(POS_WIDTH-2){1'b0}}, 2'd2}
    : ext_waits ? fill != 0 : fill > {{(POS_WIDTH-1){1'b0}}, 1'b1};
wire [7:0]            ext_ring_byte = state_reg == STATE_OFFSET ? ring_reg[head_index_2*8 +: 8]
    : ext_waits ? head_byte : head_byte_1;
wire                  ext_written = take_chunk && chunk_bytes != 0;
wire [7:0]            ext_byte_next = ext_in_ring ? ext_ring_byte : chunk_data[7:0];
wire                  ext_ready_next = ext_in_ring || ext_written;

// Stage 2: the ring from the issued descriptor's first byte (the ring has not moved under it:
// writes land only before the head).
reg [VIEW_BYTES*8-1:0] issue_view;
reg [RING_WIDTH-1:0]   view_index;
integer                view_lane;
always @* begin
    for (view_lane = 0; view_lane < VIEW_BYTES; view_lane = view_lane + 1) begin
        view_index = issue_at_reg + view_lane[RING_WIDTH-1:0];
        issue_view[view_lane*8 +: 8] = ring_reg[view_index*8 +: 8];
    end
end

always @(posedge clk) begin
    room_reg <= fill <= ROOM_LIMIT;
    state_reg <= state_next;
    ring_reg <= ring_next;
    wr_reg <= wr_next;
    head_reg <= head_next;
    in_ended_reg <= in_ended_next;
    raw_len_reg <= raw_len_next;
    crc_reg <= crc_next;
    dict_reg <= dict_next;
    lit_rem_reg <= lit_rem_next;
    lit_step_reg <= lit_step_next;
    ext_byte_reg <= ext_byte_next;
    ext_ready_reg <= ext_ready_next;
    match_rem_reg <= match_rem_next;
    match_nibble_reg <= match_nibble_next;
    offset_reg <= offset_next;
    credits_reg <= credits_reg - {{(CREDIT_WIDTH-1){1'b0}}, issue_valid_next}
        + {{(CREDIT_WIDTH-1){1'b0}}, m_desc_pop};

    issue_valid_reg <= issue_valid_next;
    issue_kind_reg <= issue_kind_next;
    issue_at_reg <= issue_at_next;
    issue_count_reg <= issue_count_next;
    issue_offset_reg <= issue_offset_next;
    issue_match_len_reg <= issue_match_len_next;

    desc_valid_reg <= issue_valid_reg;
    desc_kind_reg <= issue_kind_reg;
    desc_view_reg <= issue_view;
    desc_count_reg <= issue_count_reg;
    desc_offset_reg <= issue_offset_reg;
    desc_match_len_reg <= issue_match_len_reg;

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
        wr_reg <= {POS_WIDTH{1'b0}};
        head_reg <= {POS_WIDTH{1'b0}};
        in_ended_reg <= 1'b0;
        credits_reg <= CREDITS_FULL;
        issue_valid_reg <= 1'b0;
        desc_valid_reg <= 1'b0;
        beat_valid_reg <= 1'b0;
    end
end

endmodule

`resetall
`default_nettype wire
