/*
 * lzcache — LZ4 block decompressor: sequence checker
 *
 * Decodes lz4_dec_scanner's descriptors into copy commands for lz4_dec_copy and checks every
 * one against the job's output bound, so that no malformed block can make the engine write
 * past the expected raw length or copy from before the start of its output.
 */

`resetall
`timescale 1ns / 1ps
`default_nettype none

// LZ4 sequence checker. A command is up to OUT_BYTES output bytes: `lit_len` literal bytes
// (carried in the command) followed by `match_len` bytes copied from `offset` bytes back.
//
// Three stages: `decode` takes a descriptor apart (literal count and bytes, offset, match
// length), then computes everything about it that does not depend on the output position,
// into a FIFO of CREDITS entries (the scanner issues only against free credits); `emit` compares
// the head entry with the output position (offset reaching before the start, length past the
// bound) and emits its first command — its literals and as many match bytes as fit — then the
// rest of a long match at OUT_BYTES per cycle. One descriptor per cycle, as the copy engine
// takes one command per cycle.
//
// An error ends the job at once: its end command carries the status, `abort` stops the
// scanner, and the entries it issued before it stopped are dropped. `done` tells the scanner
// that the job's end command has left, so it may start the next job.
module lz4_dec_checker #
(
    // Output bytes per command (a power of two, 8 or more)
    parameter OUT_BYTES = 32,
    // Descriptor view bytes (lz4_dec_scanner)
    parameter VIEW_BYTES = OUT_BYTES + 5,
    // Bytes of history the copy engine keeps (a power of two); larger offsets are rejected
    parameter HISTORY_SIZE = 65536,
    // Descriptors held (the scanner's credits; a power of two)
    parameter CREDITS = 8,
    // Width of a command's length fields
    parameter LEN_WIDTH = $clog2(OUT_BYTES + 1)
)
(
    input  wire                    clk,
    input  wire                    rst,

    /*
     * Descriptors from lz4_dec_scanner
     */
    input  wire [2:0]              s_desc_kind,
    input  wire [VIEW_BYTES*8-1:0] s_desc_view,
    input  wire [LEN_WIDTH-1:0]    s_desc_count,
    input  wire [15:0]             s_desc_offset,
    input  wire [32:0]             s_desc_match_len,
    input  wire                    s_desc_valid,
    output wire                    s_desc_pop,

    /*
     * The job, and the handshake with the scanner
     */
    input  wire [31:0]             job_raw_len,
    input  wire [63:0]             job_crc,
    // Bytes of preset dictionary before the job's output that matches may reach (0: none)
    input  wire [16:0]             job_dict_len,
    input  wire                    job_open,
    input  wire                    job_drained,
    input  wire                    job_waiting,
    output wire                    abort,
    output wire                    done,

    /*
     * Copy commands; an `end` command closes each job with its status
     */
    output wire [OUT_BYTES*8-1:0]  m_cmd_literals,
    output wire [LEN_WIDTH-1:0]    m_cmd_lit_len,
    output wire [LEN_WIDTH-1:0]    m_cmd_match_len,
    output wire [15:0]             m_cmd_offset,
    output wire [15:0]             m_cmd_back,
    output wire                    m_cmd_end,
    output wire [3:0]              m_cmd_status,
    output wire [31:0]             m_cmd_length,
    output wire [63:0]             m_cmd_crc,
    output wire                    m_cmd_valid,
    input  wire                    m_cmd_ready
);

/* verilator lint_off UNUSEDPARAM */
`include "lz4_dec_status.vh"
`include "lz4_dec_desc.vh"
/* verilator lint_on UNUSEDPARAM */

localparam FAST_LIT_EXT = OUT_BYTES >= 15;
localparam [32:0] OUT_BYTES_33 = 33'd0 + OUT_BYTES;
localparam [16:0] HISTORY_SIZE_17 = HISTORY_SIZE;

initial begin
    if (HISTORY_SIZE > 65536 || (HISTORY_SIZE & (HISTORY_SIZE - 1)) != 0) begin
        $error("Error: HISTORY_SIZE must be a power of two up to 65536 (instance %m)");
        $finish;
    end
end

/*
 * Decode: a descriptor's fields, and what about it does not depend on the output position
 */

wire [3:0] token_lit = s_desc_view[7:4];
wire [3:0] token_match = s_desc_view[3:0];
wire       fast_lit_ext = FAST_LIT_EXT && token_lit == 4'd15;
wire [8:0] fast_lit_len = fast_lit_ext ? 9'd15 + {1'b0, s_desc_view[15:8]} : {5'd0, token_lit};
wire [9:0] fast_offset_at = 10'd1 + {9'd0, fast_lit_ext} + {1'b0, fast_lit_len};

// The offset and match extension after the literals (a one-cycle header's literals fit a command).
reg [15:0] fast_offset;
reg [7:0]  fast_match_ext_byte;
integer    skip;
always @* begin
    fast_offset = 16'd0;
    fast_match_ext_byte = 8'd0;
    for (skip = 1; skip <= OUT_BYTES + 2; skip = skip + 1) begin
        if (fast_offset_at == skip[9:0]) begin
            fast_offset = s_desc_view[skip*8 +: 16];
            fast_match_ext_byte = s_desc_view[(skip + 2)*8 +: 8];
        end
    end
end

wire [32:0] fast_match_len = {29'd0, token_match} + 33'd4
    + (token_match == 4'd15 ? {25'd0, fast_match_ext_byte} : 33'd0);

reg                   dec_term;
reg                   dec_end_ok;
reg [OUT_BYTES*8-1:0] dec_literals;
reg [LEN_WIDTH-1:0]   dec_lit_len;
reg                   dec_has_match;
reg [15:0]            dec_offset;
reg [32:0]            dec_match_len;

always @* begin
    dec_term = s_desc_kind == DESC_END || s_desc_kind == DESC_ERR;
    dec_end_ok = s_desc_kind == DESC_END;
    dec_literals = s_desc_view[OUT_BYTES*8-1:0];
    dec_lit_len = {LEN_WIDTH{1'b0}};
    dec_has_match = 1'b0;
    dec_offset = s_desc_offset;
    dec_match_len = 33'd0;
    case (s_desc_kind)
        DESC_FAST: begin
            dec_literals = fast_lit_ext ? s_desc_view[16 +: OUT_BYTES*8] : s_desc_view[8 +: OUT_BYTES*8];
            dec_lit_len = fast_lit_len[LEN_WIDTH-1:0];
            dec_has_match = 1'b1;
            dec_offset = fast_offset;
            dec_match_len = fast_match_len;
        end
        DESC_LIT: begin
            dec_lit_len = s_desc_count;
        end
        DESC_MATCH: begin
            dec_has_match = 1'b1;
            dec_match_len = s_desc_match_len;
        end
        default: begin
        end
    endcase
end

// The fields, registered (the second decode stage's arithmetic starts from flip-flops).
reg                   d_valid_reg = 1'b0;
reg                   d_term_reg = 1'b0;
reg                   d_end_ok_reg = 1'b0;
reg [OUT_BYTES*8-1:0] d_literals_reg = {OUT_BYTES*8{1'b0}};
reg [LEN_WIDTH-1:0]   d_lit_len_reg = {LEN_WIDTH{1'b0}};
reg [LEN_WIDTH-1:0]   d_room_reg = {LEN_WIDTH{1'b0}};
reg                   d_has_match_reg = 1'b0;
reg [15:0]            d_offset_reg = 16'd0;
reg [32:0]            d_match_len_reg = 33'd0;

always @(posedge clk) begin
    d_valid_reg <= s_desc_valid;
    d_term_reg <= dec_term;
    d_end_ok_reg <= dec_end_ok;
    d_literals_reg <= dec_literals;
    d_lit_len_reg <= dec_lit_len;
    d_room_reg <= OUT_BYTES[LEN_WIDTH-1:0] - dec_lit_len;
    d_has_match_reg <= dec_has_match;
    d_offset_reg <= dec_offset;
    d_match_len_reg <= dec_match_len;
    if (rst) begin
        d_valid_reg <= 1'b0;
    end
end

wire [32:0]          dec_lit_wide = {{(33-LEN_WIDTH){1'b0}}, d_lit_len_reg};
// Match bytes that travel with the literals (at most the command's room after them, known
// from the first stage); the rest follows at OUT_BYTES per cycle. The compare is at the
// width of a command, beside the 33-bit subtraction rather than in front of it.
wire                 dec_match_small = d_match_len_reg[32:LEN_WIDTH] == 0
    && d_match_len_reg[LEN_WIDTH-1:0] < d_room_reg;
wire [LEN_WIDTH-1:0] dec_first = dec_match_small ? d_match_len_reg[LEN_WIDTH-1:0] : d_room_reg;
wire [32:0]          dec_rest_big = d_match_len_reg - {{(33-LEN_WIDTH){1'b0}}, d_room_reg};
wire [32:0]          dec_rest = dec_match_small ? 33'd0 : dec_rest_big;
wire [LEN_WIDTH:0]   dec_step = {1'b0, d_lit_len_reg} + {1'b0, dec_first};
wire [33:0]          dec_total = {1'b0, dec_lit_wide} + {1'b0, d_match_len_reg};
wire                 dec_zero = d_has_match_reg && d_offset_reg == 16'd0;
wire                 dec_history = d_has_match_reg && {1'b0, d_offset_reg} >= HISTORY_SIZE_17;
// An offset reaches before the start of the output when offset - literals > position.
wire                 dec_reaches = d_has_match_reg && {17'd0, d_offset_reg} > dec_lit_wide;
wire [15:0]          dec_reach = d_offset_reg - {{(16-LEN_WIDTH){1'b0}}, d_lit_len_reg};

localparam ENTRY_WIDTH = 2 + OUT_BYTES*8 + 2*LEN_WIDTH + (LEN_WIDTH + 1) + 33 + 16 + 34 + 3 + 16;

wire [ENTRY_WIDTH-1:0] dec_entry = {d_term_reg, d_end_ok_reg, d_literals_reg,
    d_lit_len_reg, dec_first, dec_step, dec_rest, d_offset_reg, dec_total,
    dec_zero, dec_history, dec_reaches, dec_reach};

wire [ENTRY_WIDTH-1:0] head_entry;
wire                   entries_ready;
wire                   head_valid;
reg                    pop;

wire [ENTRY_WIDTH-1:0] fifo_entry;
wire                   fifo_valid;
wire                   fifo_ready;

sync_fifo #(
    .WIDTH(ENTRY_WIDTH),
    .DEPTH(CREDITS)
)
entries (
    .clk(clk),
    .rst(rst),
    .s_data(dec_entry),
    .s_valid(d_valid_reg),
    .s_ready(entries_ready),
    .m_data(fifo_entry),
    .m_valid(fifo_valid),
    .m_ready(fifo_ready)
);

// The head entry from flip-flops: the FIFO's memory is read through a LUT multiplexer, and
// the emit stage's checks (33-bit bound and offset compares) start from a register instead.
axis_skid_buffer #(
    .WIDTH(ENTRY_WIDTH)
)
head_register (
    .clk(clk),
    .rst(rst),
    .s_payload(fifo_entry),
    .s_valid(fifo_valid),
    .s_ready(fifo_ready),
    .m_payload(head_entry),
    .m_valid(head_valid),
    .m_ready(pop)
);

assign s_desc_pop = pop && head_valid;

wire                   e_term;
wire                   e_end_ok;
wire [OUT_BYTES*8-1:0] e_literals;
wire [LEN_WIDTH-1:0]   e_lit_len;
wire [LEN_WIDTH-1:0]   e_first;
wire [LEN_WIDTH:0]     e_step;
wire [32:0]            e_rest;
wire [15:0]            e_offset;
wire [33:0]            e_total;
wire                   e_zero;
wire                   e_history;
wire                   e_reaches;
wire [15:0]            e_reach;

assign {e_term, e_end_ok, e_literals, e_lit_len, e_first, e_step, e_rest, e_offset,
    e_total, e_zero, e_history, e_reaches, e_reach} = head_entry;

/*
 * Emit: checks against the output position, then commands
 */

localparam [1:0]
    EMIT_START = 2'd0,
    EMIT_RUN = 2'd1,
    EMIT_MATCH = 2'd2,
    EMIT_FLUSH = 2'd3;

reg [1:0]  emit_state_reg = EMIT_START, emit_state_next;
reg        done_reg = 1'b0, done_next;
reg [32:0] pos_reg = 33'd0, pos_next;
reg [32:0] room_reg = 33'd0, room_next;
reg [32:0] match_rem_reg = 33'd0, match_rem_next;
reg [15:0] offset_reg = 16'd0, offset_next;
// How far back a match may reach: the output position plus the dictionary before it, held
// once it reaches 2^16 (no offset reaches further).
reg [16:0] reach_reg = 17'd0, reach_next;

reg [OUT_BYTES*8-1:0] cmd_literals;
reg [LEN_WIDTH-1:0]   cmd_lit_len;
reg [LEN_WIDTH-1:0]   cmd_match_len;
reg [15:0]            cmd_offset;
reg [15:0]            cmd_back;
reg                   cmd_end;
reg [3:0]             cmd_status;
reg                   cmd_valid;

assign m_cmd_literals = cmd_literals;
assign m_cmd_lit_len = cmd_lit_len;
assign m_cmd_match_len = cmd_match_len;
assign m_cmd_offset = cmd_offset;
assign m_cmd_back = cmd_back;
assign m_cmd_end = cmd_end;
assign m_cmd_status = cmd_status;
assign m_cmd_length = pos_reg[31:0];
assign m_cmd_crc = job_crc;
assign m_cmd_valid = cmd_valid;

assign abort = emit_state_reg == EMIT_FLUSH;
assign done = done_reg;

// A 16-bit compare beside the reach's top bit (an offset is 16 bits).
wire        e_range = e_reaches && !reach_reg[16] && e_reach > reach_reg[15:0];
wire        e_overrun = e_total > {1'b0, room_reg};
wire [32:0] match_chunk = match_rem_reg < OUT_BYTES_33 ? match_rem_reg : OUT_BYTES_33;

reg [3:0] e_check;
always @* begin
    // In the order of the LZ4 reference checks: the offset, then the bound.
    if (e_zero) begin
        e_check = LZ4_ERR_OFFSET_ZERO;
    end else if (e_range) begin
        e_check = LZ4_ERR_OFFSET_RANGE;
    end else if (e_history) begin
        e_check = LZ4_ERR_HISTORY;
    end else if (e_overrun) begin
        e_check = LZ4_ERR_OVERRUN;
    end else begin
        e_check = LZ4_OK;
    end
end

always @* begin
    emit_state_next = emit_state_reg;
    done_next = done_reg;
    pos_next = pos_reg;
    room_next = room_reg;
    match_rem_next = match_rem_reg;
    offset_next = offset_reg;
    reach_next = reach_reg;
    pop = 1'b0;

    cmd_literals = e_literals;
    cmd_lit_len = {LEN_WIDTH{1'b0}};
    cmd_match_len = {LEN_WIDTH{1'b0}};
    cmd_offset = e_offset;
    // How far before the command's first output byte its match starts: offset - literals.
    cmd_back = e_reach;
    cmd_end = 1'b0;
    cmd_status = LZ4_OK;
    cmd_valid = 1'b0;

    case (emit_state_reg)
        EMIT_START: begin
            // The scanner holds the job's parameters from its first cycle of parsing on.
            pos_next = 33'd0;
            reach_next = job_dict_len;
            room_next = {1'b0, job_raw_len};
            if (done_reg) begin
                // The scanner leaves its wait in the cycle it sees `done`.
                if (job_waiting) begin
                    done_next = 1'b0;
                end
            end else if (job_open) begin
                emit_state_next = EMIT_RUN;
            end
        end
        EMIT_RUN: begin
            // A failed check ends the job, so the position, room and match state it would
            // advance are never used again (EMIT_START sets them anew) and the failing entry
            // may leave like any other (EMIT_FLUSH drops the rest): only the command's end and
            // status, and the next state, wait for the checks' compares.
            if (head_valid) begin
                cmd_valid = 1'b1;
                pop = m_cmd_ready;
                if (e_term) begin
                    cmd_end = 1'b1;
                    cmd_status = !e_end_ok ? LZ4_ERR_TRUNCATED : (room_reg == 0 ? LZ4_OK : LZ4_ERR_SHORT);
                    if (m_cmd_ready) begin
                        done_next = 1'b1;
                        emit_state_next = EMIT_START;
                    end
                end else begin
                    if (e_check != LZ4_OK) begin
                        cmd_end = 1'b1;
                        cmd_status = e_check;
                    end else begin
                        cmd_lit_len = e_lit_len;
                        cmd_match_len = e_first;
                    end
                    if (m_cmd_ready) begin
                        pos_next = pos_reg + {{(32-LEN_WIDTH){1'b0}}, e_step};
                        if (!reach_reg[16]) begin
                            reach_next = reach_reg + {{(16-LEN_WIDTH){1'b0}}, e_step};
                        end
                        room_next = room_reg - {{(32-LEN_WIDTH){1'b0}}, e_step};
                        match_rem_next = e_rest;
                        offset_next = e_offset;
                        if (e_check != LZ4_OK) begin
                            emit_state_next = EMIT_FLUSH;
                        end else if (e_rest != 0) begin
                            emit_state_next = EMIT_MATCH;
                        end
                    end
                end
            end
        end
        EMIT_MATCH: begin
            cmd_match_len = match_chunk[LEN_WIDTH-1:0];
            cmd_offset = offset_reg;
            cmd_back = offset_reg;
            cmd_valid = 1'b1;
            if (m_cmd_ready) begin
                match_rem_next = match_rem_reg - match_chunk;
                pos_next = pos_reg + match_chunk;
                if (!reach_reg[16]) begin
                    reach_next = reach_reg + match_chunk[16:0];
                end
                room_next = room_reg - match_chunk;
                if (match_rem_reg == match_chunk) begin
                    emit_state_next = EMIT_RUN;
                end
            end
        end
        EMIT_FLUSH: begin
            // Drops what the scanner issued before it stopped; the job is closed once the
            // scanner waits and every credit is back.
            pop = 1'b1;
            if (job_waiting && job_drained) begin
                done_next = 1'b1;
                emit_state_next = EMIT_START;
            end
        end
        default: begin
            emit_state_next = EMIT_START;
        end
    endcase
end

always @(posedge clk) begin
    emit_state_reg <= emit_state_next;
    done_reg <= done_next;
    pos_reg <= pos_next;
    room_reg <= room_next;
    match_rem_reg <= match_rem_next;
    offset_reg <= offset_next;
    reach_reg <= reach_next;

    if (rst) begin
        emit_state_reg <= EMIT_START;
        done_reg <= 1'b0;
    end
end

// The FIFO always has room: the scanner issues a descriptor only against a free credit.
wire unused = &{1'b0, entries_ready};

endmodule

`resetall
`default_nettype wire
