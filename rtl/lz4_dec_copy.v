/*
 * lzcache — LZ4 block decompressor: copy engine
 *
 * Executes the parser's commands against a banked history memory and emits up to OUT_BYTES
 * raw bytes per cycle.
 */

`resetall
`timescale 1ns / 1ps
`default_nettype none

// Copy engine: literals, then match bytes, of one command per cycle.
//
// History: HISTORY_SIZE bytes in OUT_BYTES single-byte banks (address a lives in bank
// a mod OUT_BYTES), so any OUT_BYTES consecutive bytes are read in one cycle, one row per
// bank, and a command's output is written in one cycle. Three stages:
//   A  (command accepted) computes, per output lane, where its byte comes from and issues the
//      bank reads for a match that starts more than 2*OUT_BYTES bytes back;
//   A2 waits for the bank data, which is registered before any logic uses it (block RAM
//      clock-to-output is half a cycle at 100 MHz on an ECP5);
//   B  forms the output from the literals, the last 2*OUT_BYTES bytes written (kept in
//      registers) and the bank data, then writes it to the history.
// Why the recent bytes sit in registers: bytes written by the two commands in stages A2 and B
// are not yet in the banks when stage A reads, and a short offset (down to 1, a run) repeats
// bytes of its own output. With the last 2*OUT_BYTES bytes at hand, a lane whose source lies
// fewer than 2*OUT_BYTES bytes back takes it from the registers — for an overlapping match,
// from byte (j mod offset) of the repeating pattern — and every other lane's source is older
// than the two commands ahead of it, hence already in the banks. So no offset ever stalls the
// engine.
//
// Preset dictionary (LZ4's "dictionary as history"): a second set of banks holds it, written
// only by lz4_dec_dict_loader while no job is in flight, ending on a row boundary. Every job
// starts on a row boundary of the history too (its end command rounds the position up), so a
// source byte `d` bytes before the job's start lives in the same bank as dictionary byte
// D - d; per bank, stage A reads both memories at the rows of the same lane window and a
// per-bank select (whether the lane's source lies before the job's start) picks one in stage
// B. The recent-bytes window starts each job as the dictionary's last 2*OUT_BYTES bytes, so a
// short offset reaching into the dictionary needs nothing else. The parser has already
// rejected any offset reaching before the dictionary (or before the output, for a job without
// one).
module lz4_dec_copy #
(
    // Output bytes per cycle (a power of two, 8 or more)
    parameter OUT_BYTES = 32,
    // Bytes of history (a power of two, at least 2*OUT_BYTES); offsets must be smaller
    parameter HISTORY_SIZE = 65536,
    // Width of a command's length fields
    parameter LEN_WIDTH = $clog2(OUT_BYTES + 1),
    // Width of the job record passed through with an end command
    parameter META_WIDTH = 100,
    // Largest preset dictionary in bytes (a power of two, 4*OUT_BYTES..65536)
    parameter DICT_SIZE = 65536,
    // Address width of the dictionary memory
    parameter DICT_WIDTH = $clog2(DICT_SIZE)
)
(
    input  wire                   clk,
    input  wire                   rst,

    /*
     * Commands from lz4_dec_parser
     */
    input  wire [OUT_BYTES*8-1:0] s_cmd_literals,
    input  wire [LEN_WIDTH-1:0]   s_cmd_lit_len,
    input  wire [LEN_WIDTH-1:0]   s_cmd_match_len,
    input  wire [15:0]            s_cmd_offset,
    input  wire [15:0]            s_cmd_back,
    input  wire                   s_cmd_end,
    input  wire [META_WIDTH-1:0]  s_cmd_meta,
    input  wire                   s_cmd_valid,
    output wire                   s_cmd_ready,

    /*
     * Output bytes: m_data lanes 0..m_count-1; m_end closes a job and carries its record
     */
    output wire [OUT_BYTES*8-1:0] m_data,
    output wire [LEN_WIDTH-1:0]   m_count,
    output wire                   m_end,
    output wire [META_WIDTH-1:0]  m_meta,
    output wire                   m_valid,
    input  wire                   m_ready,

    /*
     * The preset dictionary (lz4_dec_dict_loader): writes, its end rounded up to a row, and
     * its last 2*OUT_BYTES bytes
     */
    input  wire                   s_dict_wr_en,
    input  wire [DICT_WIDTH-1:0]  s_dict_wr_addr,
    input  wire [7:0]             s_dict_wr_data,
    input  wire [16:0]            dict_end,
    input  wire [OUT_BYTES*16-1:0] dict_tail,
    // A load has ended (no command is in the engine): take the new end and tail
    input  wire                   dict_changed
);

localparam LANE_WIDTH = $clog2(OUT_BYTES);
localparam HIST_WIDTH = $clog2(HISTORY_SIZE);
localparam ROWS = HISTORY_SIZE / OUT_BYTES;
localparam DICT_ROWS = DICT_SIZE / OUT_BYTES;
// Index into {literals, recent bytes}: 3*OUT_BYTES entries.
localparam SRC_WIDTH = LANE_WIDTH + 2;
localparam [15:0] OUT_BYTES_16 = OUT_BYTES[15:0];
localparam [15:0] RECENT_BYTES_16 = 2 * OUT_BYTES_16;
localparam [31:0] RECENT_SRC_32 = 2 * OUT_BYTES;
localparam [SRC_WIDTH-1:0] RECENT_SRC = RECENT_SRC_32[SRC_WIDTH-1:0];

initial begin
    if (OUT_BYTES < 8 || (1 << LANE_WIDTH) != OUT_BYTES) begin
        $error("Error: OUT_BYTES must be a power of two, 8 or more (instance %m)");
        $finish;
    end
    if ((1 << HIST_WIDTH) != HISTORY_SIZE || HISTORY_SIZE < 2 * OUT_BYTES
            || HISTORY_SIZE > 65536) begin
        $error("Error: HISTORY_SIZE must be a power of two in 2*OUT_BYTES..65536 (instance %m)");
        $finish;
    end
    if ((1 << DICT_WIDTH) != DICT_SIZE || DICT_SIZE < 4 * OUT_BYTES || DICT_SIZE > 65536) begin
        $error("Error: DICT_SIZE must be a power of two in 4*OUT_BYTES..65536 (instance %m)");
        $finish;
    end
end

/*
 * Stage A: per-lane sources and bank reads
 */

reg                   a2_valid_reg = 1'b0;
reg                   b_valid_reg = 1'b0;
wire                  b_done = b_valid_reg && m_ready;
// The three stages advance together, unless the output holds a command.
wire                  advance = !b_valid_reg || m_ready;
wire                  a_accept = s_cmd_valid && advance;

assign s_cmd_ready = advance;

// Position (mod HISTORY_SIZE) of the next command's first output byte, and OUT_BYTES past it.
localparam [HIST_WIDTH-1:0] ROW_STEP = OUT_BYTES_16[HIST_WIDTH-1:0];
reg [HIST_WIDTH-1:0]  a_pos_reg = {HIST_WIDTH{1'b0}};
reg [HIST_WIDTH-1:0]  a_pos_up_reg = ROW_STEP;

// Bytes of this command, at the widths of the positions it advances.
wire [LEN_WIDTH:0]    cmd_count = {1'b0, s_cmd_lit_len} + {1'b0, s_cmd_match_len};
wire [HIST_WIDTH-1:0] cmd_count_h = {{(HIST_WIDTH-LEN_WIDTH-1){1'b0}}, cmd_count};
wire [16:0]           cmd_count_17 = {{(16-LEN_WIDTH){1'b0}}, cmd_count};
wire [DICT_WIDTH-1:0] cmd_count_d = {{(DICT_WIDTH-LEN_WIDTH-1){1'b0}}, cmd_count};
wire [HIST_WIDTH-1:0] a_pos_next = a_pos_reg + cmd_count_h;
// An end command carries no bytes (lz4_dec_checker): the next job starts at the row boundary
// at or after the position, and its `up` position a row later — one row increment each.
wire [HIST_WIDTH-LANE_WIDTH-1:0] row_carry =
    {{(HIST_WIDTH-LANE_WIDTH-1){1'b0}}, |a_pos_reg[LANE_WIDTH-1:0]};
wire [HIST_WIDTH-1:0] a_pos_row_up =
    {a_pos_reg[HIST_WIDTH-1:LANE_WIDTH] + row_carry, {LANE_WIDTH{1'b0}}};
wire [HIST_WIDTH-1:0] a_pos_up_row_up =
    {a_pos_up_reg[HIST_WIDTH-1:LANE_WIDTH] + row_carry, {LANE_WIDTH{1'b0}}};
// First byte of the match's source window (the parser sends offset - literals as `back`),
// and the byte a row later: each bank's read row is one of the two, by a 5-bit compare, so
// one subtraction lies between the command register and the block RAM addresses.
wire [HIST_WIDTH-1:0] src = a_pos_reg - s_cmd_back[HIST_WIDTH-1:0];
wire [HIST_WIDTH-1:0] src_up = a_pos_up_reg - s_cmd_back[HIST_WIDTH-1:0];
wire [LANE_WIDTH-1:0] src_lane = src[LANE_WIDTH-1:0];
// Bank holding the source of output lane 0 (lane k reads bank rot + k).
wire [LANE_WIDTH-1:0] rot = a_pos_reg[LANE_WIDTH-1:0] - s_cmd_offset[LANE_WIDTH-1:0];

// Where the next command's first output byte lies in its job (held at 2^16 and beyond, where
// no offset reaches the dictionary) and the dictionary address that many bytes past the
// dictionary's end: the match source window in the dictionary is that minus `back`, with the
// same low bits as `src` (both memories' rows start at a multiple of OUT_BYTES).
localparam [DICT_WIDTH-1:0] DICT_ROW_STEP = OUT_BYTES_16[DICT_WIDTH-1:0];
reg [16:0]            a_job_pos_reg = 17'd0;
reg [DICT_WIDTH-1:0]  a_dict_pos_reg = {DICT_WIDTH{1'b0}};
reg [DICT_WIDTH-1:0]  a_dict_pos_up_reg = DICT_ROW_STEP;
wire [DICT_WIDTH-1:0] dict_src = a_dict_pos_reg - s_cmd_back[DICT_WIDTH-1:0];
wire [DICT_WIDTH-1:0] dict_src_up = a_dict_pos_up_reg - s_cmd_back[DICT_WIDTH-1:0];
// How many bytes of the source window lie before the job's start (in the dictionary).
wire [17:0]           deficit = {2'b00, s_cmd_back} - {1'b0, a_job_pos_reg};
wire                  has_deficit = !deficit[17] && deficit != 18'd0;
wire                  deficit_whole_row = |deficit[16:LANE_WIDTH];

// Per bank: its byte of the source window is window byte (bank - src_lane); it comes from the
// dictionary when that is below the deficit.
reg [OUT_BYTES-1:0] bank_from_dict;
integer d;
reg [LANE_WIDTH-1:0] window_byte;
always @* begin
    for (d = 0; d < OUT_BYTES; d = d + 1) begin
        window_byte = d[LANE_WIDTH-1:0] - src_lane;
        bank_from_dict[d] = has_deficit
            && (deficit_whole_row || window_byte < deficit[LANE_WIDTH-1:0]);
    end
end

reg [OUT_BYTES*SRC_WIDTH-1:0] lane_src;
reg [OUT_BYTES-1:0]           lane_from_bank;

// j mod o for every match byte index j and short offset o below OUT_BYTES, computed at
// elaboration: a small table in logic instead of a divider (o = 0 never reaches the copy
// engine: the parser rejects it; its entries are j). Used up to 8 bytes per cycle: wider,
// the table (OUT_BYTES^2 entries per lane) costs synthesis more than the divider it replaces.
/* verilator lint_off UNUSEDSIGNAL */
function [OUT_BYTES*OUT_BYTES*LANE_WIDTH-1:0] mod_table(input integer unused_arg);
    integer a, b, m;
    begin
        for (a = 0; a < OUT_BYTES; a = a + 1) begin
            for (b = 0; b < OUT_BYTES; b = b + 1) begin
                m = b == 0 ? a : a % b;
                mod_table[(a*OUT_BYTES + b)*LANE_WIDTH +: LANE_WIDTH] = m[LANE_WIDTH-1:0];
            end
        end
    end
endfunction
/* verilator lint_on UNUSEDSIGNAL */

localparam USE_MOD_TABLE = OUT_BYTES <= 8;

wire short_offset = s_cmd_offset < OUT_BYTES_16;

// Per lane k: match byte index j = k - lit_len and j mod offset (for a short offset).
wire [OUT_BYTES*LANE_WIDTH-1:0] lane_j_mod;

genvar lane_k;
generate
    for (lane_k = 0; lane_k < OUT_BYTES; lane_k = lane_k + 1) begin : mod_lane
        wire [LANE_WIDTH-1:0] j = lane_k[LANE_WIDTH-1:0] - s_cmd_lit_len[LANE_WIDTH-1:0];
        wire [LANE_WIDTH-1:0] o = s_cmd_offset[LANE_WIDTH-1:0];
        if (USE_MOD_TABLE) begin : table_lookup
            localparam [OUT_BYTES*OUT_BYTES*LANE_WIDTH-1:0] MOD_TABLE = mod_table(0);
            assign lane_j_mod[lane_k*LANE_WIDTH +: LANE_WIDTH] =
                MOD_TABLE[{j, o}*LANE_WIDTH +: LANE_WIDTH];
        end else begin : divide
            assign lane_j_mod[lane_k*LANE_WIDTH +: LANE_WIDTH] = o == 0 ? j : j % o;
        end
    end
endgenerate

integer k;
reg [LANE_WIDTH-1:0] j_mod;
reg [SRC_WIDTH-1:0]  near_rel;
always @* begin
    lane_src = {OUT_BYTES*SRC_WIDTH{1'b0}};
    lane_from_bank = {OUT_BYTES{1'b0}};
    for (k = 0; k < OUT_BYTES; k = k + 1) begin
        j_mod = lane_j_mod[k*LANE_WIDTH +: LANE_WIDTH];
        near_rel = {SRC_WIDTH{1'b0}};
        if (k < s_cmd_lit_len) begin
            // A literal: entry 2*OUT_BYTES + k.
            lane_src[k*SRC_WIDTH +: SRC_WIDTH] = RECENT_SRC + k[SRC_WIDTH-1:0];
        end else if (short_offset) begin
            // Match byte j repeats byte j - offset while that is still in this match, so its
            // source is byte (j mod offset) of the pattern that starts offset bytes back:
            // lit_len + (j mod offset) - offset bytes from this command's first output byte,
            // always among the recent bytes or this command's literals.
            near_rel = {{(SRC_WIDTH-LEN_WIDTH){1'b0}}, s_cmd_lit_len} + {2'b00, j_mod}
                - s_cmd_offset[SRC_WIDTH-1:0];
            lane_src[k*SRC_WIDTH +: SRC_WIDTH] = near_rel + RECENT_SRC;
        end else if (s_cmd_offset > k[15:0] + RECENT_BYTES_16) begin
            // Lane k's source is offset - k bytes back, more than 2*OUT_BYTES: in the banks.
            lane_from_bank[k] = 1'b1;
        end else begin
            // Within the last 2*OUT_BYTES bytes: k - offset from the first output byte.
            lane_src[k*SRC_WIDTH +: SRC_WIDTH] = k[SRC_WIDTH-1:0] - s_cmd_offset[SRC_WIDTH-1:0]
                + RECENT_SRC;
        end
    end
end

/*
 * Stage A2: the bank reads in flight (block RAM data is registered before it is used)
 */

reg [OUT_BYTES*8-1:0]         a2_literals_reg = {OUT_BYTES*8{1'b0}};
reg [OUT_BYTES*SRC_WIDTH-1:0] a2_src_reg = {OUT_BYTES*SRC_WIDTH{1'b0}};
reg [OUT_BYTES-1:0]           a2_from_bank_reg = {OUT_BYTES{1'b0}};
reg [OUT_BYTES-1:0]           a2_from_dict_reg = {OUT_BYTES{1'b0}};
reg [LANE_WIDTH-1:0]          a2_rot_reg = {LANE_WIDTH{1'b0}};
reg [HIST_WIDTH-1:0]          a2_pos_reg = {HIST_WIDTH{1'b0}};
reg [LEN_WIDTH-1:0]           a2_count_reg = {LEN_WIDTH{1'b0}};
reg                           a2_end_reg = 1'b0;
reg [META_WIDTH-1:0]          a2_meta_reg = {META_WIDTH{1'b0}};

/*
 * History banks
 */

reg [OUT_BYTES*8-1:0]         b_literals_reg = {OUT_BYTES*8{1'b0}};
reg [OUT_BYTES*SRC_WIDTH-1:0] b_src_reg = {OUT_BYTES*SRC_WIDTH{1'b0}};
reg [OUT_BYTES-1:0]           b_from_bank_reg = {OUT_BYTES{1'b0}};
reg [LANE_WIDTH-1:0]          b_rot_reg = {LANE_WIDTH{1'b0}};
reg [HIST_WIDTH-1:0]          b_pos_reg = {HIST_WIDTH{1'b0}};
reg [LEN_WIDTH-1:0]           b_count_reg = {LEN_WIDTH{1'b0}};
reg                           b_end_reg = 1'b0;
reg [META_WIDTH-1:0]          b_meta_reg = {META_WIDTH{1'b0}};
reg [OUT_BYTES*8-1:0]         b_bank_reg = {OUT_BYTES*8{1'b0}};
reg [OUT_BYTES*8-1:0]         b_dict_reg = {OUT_BYTES*8{1'b0}};
reg [OUT_BYTES-1:0]           b_from_dict_reg = {OUT_BYTES{1'b0}};
// The last 2*OUT_BYTES bytes written; byte 2*OUT_BYTES-1 is the newest. Two commands' worth:
// a bank read issued in stage A misses the writes of the two commands ahead of it.
reg [OUT_BYTES*16-1:0]        recent_reg = {OUT_BYTES*16{1'b0}};

wire [OUT_BYTES*8-1:0] bank_data;
wire [OUT_BYTES*8-1:0] dict_data;
reg  [OUT_BYTES*8-1:0] out_bytes;

genvar bank;
generate
    for (bank = 0; bank < OUT_BYTES; bank = bank + 1) begin : history_bank
        // Source row: the row of the address in [src, src + OUT_BYTES) that lives here (the
        // next row for the banks below src's), in the history and in the dictionary alike.
        wire next_row;
        if (bank == OUT_BYTES - 1) begin : top_bank
            assign next_row = 1'b0;
        end else begin : lower_bank
            assign next_row = bank[LANE_WIDTH-1:0] < src_lane;
        end
        wire [HIST_WIDTH-1:0] rd_addr = next_row ? src_up : src;
        // Output lane written to this bank.
        wire [LANE_WIDTH-1:0] wr_lane = bank[LANE_WIDTH-1:0] - b_pos_reg[LANE_WIDTH-1:0];
        wire [HIST_WIDTH-1:0] wr_addr = b_pos_reg + {{(HIST_WIDTH-LANE_WIDTH){1'b0}}, wr_lane};
        wire                  wr_en = b_done && {1'b0, wr_lane} < b_count_reg;

        ram_sdp #(
            .WIDTH(8),
            .DEPTH(ROWS)
        )
        ram (
            .clk(clk),
            .wr_en(wr_en),
            .wr_addr(wr_addr[HIST_WIDTH-1:LANE_WIDTH]),
            .wr_data(out_bytes[wr_lane*8 +: 8]),
            .rd_en(advance),
            .rd_addr(rd_addr[HIST_WIDTH-1:LANE_WIDTH]),
            .rd_data(bank_data[bank*8 +: 8])
        );
        // The low address bits name the bank, not the row.
        wire unused_bank_bits = &{1'b0, rd_addr[LANE_WIDTH-1:0], wr_addr[LANE_WIDTH-1:0]};

        // The dictionary's bank: the same lane window, at its rows.
        wire [DICT_WIDTH-1:0] dict_rd_addr = next_row ? dict_src_up : dict_src;

        ram_sdp #(
            .WIDTH(8),
            .DEPTH(DICT_ROWS)
        )
        dict_ram (
            .clk(clk),
            .wr_en(s_dict_wr_en && s_dict_wr_addr[LANE_WIDTH-1:0] == bank[LANE_WIDTH-1:0]),
            .wr_addr(s_dict_wr_addr[DICT_WIDTH-1:LANE_WIDTH]),
            .wr_data(s_dict_wr_data),
            .rd_en(advance),
            .rd_addr(dict_rd_addr[DICT_WIDTH-1:LANE_WIDTH]),
            .rd_data(dict_data[bank*8 +: 8])
        );
        wire unused_dict_bits = &{1'b0, dict_rd_addr[LANE_WIDTH-1:0]};
    end
endgenerate

// Each bank's byte from the memory its lane window lies in. Both memories' data are
// registered as they are (the block RAMs' clock-to-output is half a cycle, and the two sets of
// banks lie apart on the chip); stage B selects.
reg [OUT_BYTES*8-1:0] window_data;
integer w;
always @* begin
    for (w = 0; w < OUT_BYTES; w = w + 1) begin
        window_data[w*8 +: 8] = b_from_dict_reg[w] ? b_dict_reg[w*8 +: 8] : b_bank_reg[w*8 +: 8];
    end
end

/*
 * Stage B: form the output
 */

wire [OUT_BYTES*24-1:0] near = {b_literals_reg, recent_reg};

integer lane;
reg [LANE_WIDTH-1:0] bank_sel;
always @* begin
    for (lane = 0; lane < OUT_BYTES; lane = lane + 1) begin
        bank_sel = b_rot_reg + lane[LANE_WIDTH-1:0];
        if (b_from_bank_reg[lane]) begin
            out_bytes[lane*8 +: 8] = window_data[bank_sel*8 +: 8];
        end else begin
            out_bytes[lane*8 +: 8] = near[b_src_reg[lane*SRC_WIDTH +: SRC_WIDTH]*8 +: 8];
        end
    end
end

// The newest 2*OUT_BYTES bytes after this command's output.
wire [OUT_BYTES*24-1:0] recent_shifted = {out_bytes, recent_reg} >> (b_count_reg * 8);

assign m_data = out_bytes;
assign m_count = b_count_reg;
assign m_end = b_end_reg;
assign m_meta = b_meta_reg;
assign m_valid = b_valid_reg;

// The upper part of the shifted window is the part shifted out; the dictionary's end is used
// modulo its memory.
wire unused = &{1'b0, recent_shifted[OUT_BYTES*24-1:OUT_BYTES*16], dict_end[16:DICT_WIDTH]};

always @(posedge clk) begin
    if (advance) begin
        a2_literals_reg <= s_cmd_literals;
        a2_src_reg <= lane_src;
        a2_from_bank_reg <= lane_from_bank;
        a2_from_dict_reg <= bank_from_dict;
        a2_rot_reg <= rot;
        a2_pos_reg <= a_pos_reg;
        a2_count_reg <= s_cmd_lit_len + s_cmd_match_len;
        a2_end_reg <= s_cmd_end;
        a2_meta_reg <= s_cmd_meta;
        a2_valid_reg <= a_accept;

        b_literals_reg <= a2_literals_reg;
        b_src_reg <= a2_src_reg;
        b_from_bank_reg <= a2_from_bank_reg;
        b_rot_reg <= a2_rot_reg;
        b_pos_reg <= a2_pos_reg;
        b_count_reg <= a2_count_reg;
        b_end_reg <= a2_end_reg;
        b_meta_reg <= a2_meta_reg;
        b_bank_reg <= bank_data;
        b_dict_reg <= dict_data;
        b_from_dict_reg <= a2_from_dict_reg;
        b_valid_reg <= a2_valid_reg;
    end
    if (a_accept) begin
        if (s_cmd_end) begin
            // The next job starts on a row boundary, a dictionary's length past its end.
            a_pos_reg <= a_pos_row_up;
            a_pos_up_reg <= a_pos_up_row_up;
            a_job_pos_reg <= 17'd0;
            a_dict_pos_reg <= dict_end[DICT_WIDTH-1:0];
            a_dict_pos_up_reg <= dict_end[DICT_WIDTH-1:0] + DICT_ROW_STEP;
        end else begin
            a_pos_reg <= a_pos_next;
            a_pos_up_reg <= a_pos_up_reg + cmd_count_h;
            if (!a_job_pos_reg[16]) begin
                a_job_pos_reg <= a_job_pos_reg + cmd_count_17;
            end
            a_dict_pos_reg <= a_dict_pos_reg + cmd_count_d;
            a_dict_pos_up_reg <= a_dict_pos_up_reg + cmd_count_d;
        end
    end
    if (b_done) begin
        // After a job's end the window holds the dictionary's tail, the bytes just before
        // the next job's start.
        recent_reg <= b_end_reg ? dict_tail : recent_shifted[OUT_BYTES*16-1:0];
    end
    if (dict_changed) begin
        recent_reg <= dict_tail;
        a_dict_pos_reg <= dict_end[DICT_WIDTH-1:0];
        a_dict_pos_up_reg <= dict_end[DICT_WIDTH-1:0] + DICT_ROW_STEP;
    end

    if (rst) begin
        a2_valid_reg <= 1'b0;
        b_valid_reg <= 1'b0;
        a_pos_reg <= {HIST_WIDTH{1'b0}};
        a_pos_up_reg <= ROW_STEP;
        a_job_pos_reg <= 17'd0;
        a_dict_pos_reg <= dict_end[DICT_WIDTH-1:0];
        a_dict_pos_up_reg <= dict_end[DICT_WIDTH-1:0] + DICT_ROW_STEP;
        recent_reg <= dict_tail;
    end
end

endmodule

`resetall
`default_nettype wire
