/*
 * lzcache — LZ4 block compressor: match finder
 *
 * Finds LZ4 matches one input byte per cycle and describes the block as literal bytes and
 * sequence records for lz4_comp_emitter.
 */

`resetall
`timescale 1ns / 1ps
`default_nettype none

// Greedy LZ4 match finder at one position per cycle, whatever the data.
//
// Per position q (bytes q..q+3 form the key), one stage a cycle:
//   P1, P2  hash the key (lz4's multiplicative hash: partial products, then their sum);
//   P3  read the hash table: the last position with the same hash is the candidate;
//   P4  write q into the table; the read data lands in a register;
//   P5  read 4 history bytes at the candidate (copy A) and 1 history byte at q - offset of
//       the match in progress (copy B); compute the candidate's offset;
//   P6  check the offset (1..MAX_OFFSET, inside this value); the history bytes land;
//   P7  compare the candidate's 4 bytes with the key and the copy B byte with q's;
//   P8  decide: extend the match in progress by byte q, or end it and start a new one at q
//       (the candidate's 4 bytes equal the key), or make q a literal.
// Each stage is a few LUT levels: no block RAM's read data feeds logic before a register,
// the decision starts from the compares' registers, and the stall comes from registers only.
// Why candidates are verified against the history and not against bytes kept in the table:
// a table entry may be stale (another value, or 4 GiB of positions ago); the history holds
// the actual bytes of this value at any offset accepted, so no stale entry can make an
// invalid block. Why two history copies: verification (4 bytes at the candidate) and
// extension (1 byte of the match in progress) read different addresses in the same cycle.
//
// The end-of-block rules of the LZ4 format are met by looking 12 bytes ahead: a match starts
// only with at least 12 bytes to the end of the value and covers only bytes with at least 6
// to the end, so the last 5 bytes are literals and the block ends with a literals-only
// sequence. Lengths need no sideband: tlast marks the end.
//
// Preset dictionary: a frame flagged s_axis_load is a dictionary (DICT_SIZE bytes at most).
// It waits until the pipeline holds nothing of earlier values (they verify candidates against
// the dictionary memory it overwrites), is written into the dictionary memory (two copies,
// like the history) as it arrives, and its positions go through P1..P4 like a value's, where
// each one whose 4 bytes lie inside the dictionary is written into a second hash table, the
// dictionary's. A value flagged s_axis_dict then has two candidates per position: the last
// position of the value with its hash, and the last position of the dictionary with it. The
// dictionary's candidate is verified against the dictionary memory and taken when the value's
// is not; its offset counts back from the value's start into the dictionary, as LZ4's
// dictionary format means (the dictionary's last byte is offset 1 from the value's first), and
// the match in progress may run from the dictionary into the value: copy B then reads the
// dictionary while the source is before the value's start. Why a table of its own: the value's
// table is rewritten by every value, the dictionary's only by a load; stale entries (an earlier
// dictionary) are harmless, as every candidate is verified against the bytes in force.
// A load's completion: status LZ4C_OK, or LZ4C_ERR_DICT_LENGTH for an empty load or one over
// DICT_SIZE (the engine then holds no dictionary), the length in the final record and no
// literals; nothing of it reaches the literal buffer.
//
// Outputs: literal bytes (m_lit_*) in order, and one record per sequence: literal count,
// offset, match length; the final record has no match and carries the value's length, the
// CRC of the input (from the CRC unit ahead of this module, on s_axis_crc with tlast) and a
// status. A literal run longer than LIT_BUFFER cannot be encoded (the emitter must hold a
// run before its length is known): the job then ends with status LZ4C_ERR_LITERALS and no
// usable block, and the host stores the value raw.
module lz4_comp_matcher #
(
    // Width of the input stream in bits
    parameter DATA_WIDTH = 512,
    // Width of tkeep: one bit per byte
    parameter KEEP_WIDTH = DATA_WIDTH/8,
    // log2 of the hash table entries
    parameter HASH_BITS = 12,
    // Bytes of history (a power of two, at most 65536); offsets reach WINDOW_SIZE - 32
    parameter WINDOW_SIZE = 65536,
    // Bytes the emitter can hold for one literal run (a power of two)
    parameter LIT_BUFFER = 65536,
    // Largest preset dictionary in bytes (a power of two, 256..65536)
    parameter DICT_SIZE = 65536
)
(
    input  wire                  clk,
    input  wire                  rst,

    /*
     * Raw input (one value per frame) and its CRC with the last beat
     */
    input  wire [DATA_WIDTH-1:0] s_axis_tdata,
    input  wire [KEEP_WIDTH-1:0] s_axis_tkeep,
    input  wire                  s_axis_tvalid,
    output wire                  s_axis_tready,
    input  wire                  s_axis_tlast,
    input  wire [63:0]           s_axis_crc,
    // The frame's kind, steady over its beats: a value compressed with the dictionary, or a
    // dictionary to load
    input  wire                  s_axis_dict,
    input  wire                  s_axis_load,

    /*
     * Literal bytes, into the emitter's buffer
     */
    output wire [7:0]            m_lit_data,
    output wire                  m_lit_valid,
    input  wire                  m_lit_full,

    /*
     * Sequence records: {final, status[3:0], literal count[31:0], offset[15:0],
     * match length[31:0]}; a final record has {crc[63:0], raw length[31:0]} in m_rec_job
     */
    output wire [84:0]           m_rec_data,
    output wire [95:0]           m_rec_job,
    output wire                  m_rec_valid,
    input  wire                  m_rec_ready
);

/* verilator lint_off UNUSEDPARAM */
`include "lz4_comp_status.vh"
/* verilator lint_on UNUSEDPARAM */

localparam BEAT_COUNT_WIDTH = $clog2(KEEP_WIDTH + 1);
localparam INDEX_WIDTH = KEEP_WIDTH > 1 ? $clog2(KEEP_WIDTH) : 1;
localparam WIN_WIDTH = $clog2(WINDOW_SIZE);
localparam [31:0] MAX_OFFSET = WINDOW_SIZE - 32;
// The longest literal run: two less than the buffer, which reports itself full two bytes
// early (lz4_comp_emitter), so a run can never wait on room only its own record would free.
localparam [31:0] LIT_LIMIT = LIT_BUFFER - 2;
// Look-ahead: position q is processed once q+12 has arrived (or the value has ended).
localparam LOOK = 16;
localparam LOOK_COUNT_WIDTH = 5;
localparam DICT_WIDTH = $clog2(DICT_SIZE);

initial begin
    if (KEEP_WIDTH * 8 != DATA_WIDTH) begin
        $error("Error: KEEP_WIDTH must be DATA_WIDTH/8 (instance %m)");
        $finish;
    end
    if (WINDOW_SIZE < 256 || WINDOW_SIZE > 65536 || (1 << WIN_WIDTH) != WINDOW_SIZE) begin
        $error("Error: WINDOW_SIZE must be a power of two in 256..65536 (instance %m)");
        $finish;
    end
    if (DICT_SIZE < 256 || DICT_SIZE > 65536 || (1 << DICT_WIDTH) != DICT_SIZE) begin
        $error("Error: DICT_SIZE must be a power of two in 256..65536 (instance %m)");
        $finish;
    end
    if (HASH_BITS < 8 || HASH_BITS > 16) begin
        $error("Error: HASH_BITS must be in 8..16 (instance %m)");
        $finish;
    end
end

/*
 * Input beat, one byte per cycle into the look-ahead
 */

reg [DATA_WIDTH-1:0]       beat_data_reg = {DATA_WIDTH{1'b0}};
reg [BEAT_COUNT_WIDTH-1:0] beat_bytes_reg = {BEAT_COUNT_WIDTH{1'b0}};
reg [INDEX_WIDTH-1:0]      beat_index_reg = {INDEX_WIDTH{1'b0}};
reg                        beat_last_reg = 1'b0;
reg [63:0]                 beat_crc_reg = 64'd0;
reg                        beat_dict_reg = 1'b0;
reg                        beat_load_reg = 1'b0;
reg                        beat_valid_reg = 1'b0;

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

reg [LOOK*8-1:0]           look_reg = {LOOK*8{1'b0}};
reg [LOOK_COUNT_WIDTH-1:0] look_count_reg = {LOOK_COUNT_WIDTH{1'b0}};
reg                        look_ended_reg = 1'b0;
reg [63:0]                 look_crc_reg = 64'd0;
reg [31:0]                 in_pos_reg = 32'd0;
// The kind of the frame in the look-ahead (it holds one frame at a time).
reg                        look_dict_reg = 1'b0;
reg                        look_load_reg = 1'b0;
// The next byte ingested is a frame's first.
reg                        frame_first_reg = 1'b1;

wire [BEAT_COUNT_WIDTH:0] beat_next_index = {1'b0, beat_index_reg} + 1'b1;
wire                      beat_empty = beat_bytes_reg == 0;
wire                      beat_final_byte = beat_empty || beat_next_index >= {1'b0, beat_bytes_reg};
wire                      look_room = look_count_reg < LOOK[LOOK_COUNT_WIDTH-1:0];
// A dictionary load starts once nothing of an earlier value is left in the pipeline. The flag
// is a register a cycle behind the pipeline, which also counts the byte ingested in that cycle
// as busy: nothing enters the pipeline but through the look-ahead, so when it says idle the
// pipeline is (it keeps ingest, which gates every stage's input, short).
reg                       pipeline_busy_reg = 1'b0;
wire                      load_waits = beat_load_reg && frame_first_reg && pipeline_busy_reg;
// Take a byte (or the empty last beat of an empty value) while the look-ahead has room.
wire                      ingest = beat_valid_reg && !look_ended_reg && look_room && !load_waits;
wire                      ingest_byte = ingest && !beat_empty;
wire [7:0]                in_byte = beat_data_reg[beat_index_reg*8 +: 8];

assign s_axis_tready = !beat_valid_reg || (ingest && beat_final_byte);

// History: written as bytes arrive, read at the candidate (copy A, 4 banks) and at the match
// in progress (copy B).
wire [WIN_WIDTH-1:0] write_addr = in_pos_reg[WIN_WIDTH-1:0];

// Dictionary: its bytes written as a load's bytes arrive (the same two copies), its length in
// force set when the load's last byte is in: 0 while loading and after a bad load.
reg  [16:0]           dict_count_reg = 17'd0;
reg  [16:0]           dict_len_reg = 17'd0;
wire [DICT_WIDTH-1:0] dict_write_addr = dict_count_reg[DICT_WIDTH-1:0];
wire                  dict_write = ingest_byte && beat_load_reg
    && dict_count_reg < DICT_SIZE[16:0];

/*
 * Pipeline: one position per cycle through P1..P8 unless the outputs are full. Every stage
 * is short: the hash multiply is split over two stages, every block-RAM read lands in a
 * register before logic uses it, and the stall is decided from registers only (not from this
 * cycle's match decision), since it fans out to every stage.
 */

reg        p1_valid_reg = 1'b0, p2_valid_reg = 1'b0, p3_valid_reg = 1'b0, p4_valid_reg = 1'b0;
reg        p5_valid_reg = 1'b0, p6_valid_reg = 1'b0, p7_valid_reg = 1'b0, p8_valid_reg = 1'b0;
wire       pipeline_busy = p1_valid_reg || p2_valid_reg || p3_valid_reg || p4_valid_reg
    || p5_valid_reg || p6_valid_reg || p7_valid_reg || p8_valid_reg || look_count_reg != 0
    || look_ended_reg;
wire       stall;
wire       advance = !stall;
wire       look_ready = look_count_reg >= 5'd13 || (look_ended_reg && look_count_reg != 0);
wire       look_end = look_ended_reg && look_count_reg == 0;
wire       pop = advance && (look_ready || look_end);

// Bytes from q to the end of the value, capped: 16 means "at least 13".
wire [4:0] remaining = look_ended_reg ? look_count_reg : 5'd16;

// Per-position fields that travel down the pipeline unchanged.
reg [31:0] p1_pos_reg = 32'd0, p2_pos_reg = 32'd0, p3_pos_reg = 32'd0, p4_pos_reg = 32'd0;
reg [31:0] p5_pos_reg = 32'd0, p6_pos_reg = 32'd0;
reg [31:0] p1_key_reg = 32'd0, p2_key_reg = 32'd0, p3_key_reg = 32'd0, p4_key_reg = 32'd0;
reg [31:0] p5_key_reg = 32'd0;
// P6 to P8 need only the position's own byte (a literal, or the extension's compare); the
// whole key goes on in the banks' order.
reg [7:0]  p6_byte_reg = 8'd0, p7_byte_reg = 8'd0, p8_byte_reg = 8'd0;
reg [4:0]  p1_remaining_reg = 5'd0, p2_remaining_reg = 5'd0, p3_remaining_reg = 5'd0;
reg [4:0]  p4_remaining_reg = 5'd0, p5_remaining_reg = 5'd0, p6_remaining_reg = 5'd0;
reg [4:0]  p7_remaining_reg = 5'd0;
reg        p1_end_reg = 1'b0, p2_end_reg = 1'b0, p3_end_reg = 1'b0, p4_end_reg = 1'b0;
reg        p5_end_reg = 1'b0, p6_end_reg = 1'b0, p7_end_reg = 1'b0, p8_end_reg = 1'b0;
// A value's CRC travels with its end token: the next value may arrive meanwhile.
reg [63:0] p1_crc_reg = 64'd0, p2_crc_reg = 64'd0, p3_crc_reg = 64'd0, p4_crc_reg = 64'd0;
reg [63:0] p5_crc_reg = 64'd0, p6_crc_reg = 64'd0, p7_crc_reg = 64'd0, p8_crc_reg = 64'd0;
// First position of the value a position belongs to.
reg [31:0] p1_start_reg = 32'd0, p2_start_reg = 32'd0, p3_start_reg = 32'd0;
// The position's place in its value (from P4 on).
reg [31:0] p4_in_value_reg = 32'd0;
// The position belongs to a value using the dictionary, or to a dictionary being loaded.
reg        p1_dict_reg = 1'b0, p2_dict_reg = 1'b0, p3_dict_reg = 1'b0, p4_dict_reg = 1'b0;
reg        p5_dict_reg = 1'b0, p6_dict_reg = 1'b0;
reg        p1_load_reg = 1'b0, p2_load_reg = 1'b0, p3_load_reg = 1'b0, p4_load_reg = 1'b0;
reg        p5_load_reg = 1'b0, p6_load_reg = 1'b0, p7_load_reg = 1'b0, p8_load_reg = 1'b0;

/*
 * P1, P2: lz4's hash, the low 32 bits of key * 2654435761, top HASH_BITS bits; the 32x32
 * product is three 16x16 partial products (P1) and their sum (P2).
 */

localparam [31:0] HASH_PRIME = 32'h9E3779B1;

wire [31:0] product_ll = p1_key_reg[15:0] * HASH_PRIME[15:0];
wire [15:0] product_lh = p1_key_reg[15:0] * HASH_PRIME[31:16];
wire [15:0] product_hl = p1_key_reg[31:16] * HASH_PRIME[15:0];

reg  [31:0] p2_product_ll_reg = 32'd0;
reg  [15:0] p2_product_lh_reg = 16'd0;
reg  [15:0] p2_product_hl_reg = 16'd0;

wire [31:0] hash_product = p2_product_ll_reg + {p2_product_lh_reg + p2_product_hl_reg, 16'd0};
wire [HASH_BITS-1:0] hash = hash_product[31 -: HASH_BITS];

/*
 * P3: hash table read; P4: table write (the position is the next candidate for its hash)
 * while the read data lands in a register.
 */

reg [HASH_BITS-1:0] p3_hash_reg = {HASH_BITS{1'b0}}, p4_hash_reg = {HASH_BITS{1'b0}};
// The write of the position just ahead happens in the same cycle as this position's read,
// which returns the old entry: forward it.
reg                 p4_forward_reg = 1'b0, p5_forward_reg = 1'b0;
wire                forward = p4_valid_reg && !p4_end_reg && p4_hash_reg == p3_hash_reg;

wire [31:0] table_data;
reg  [31:0] p5_table_reg = 32'd0;

ram_sdp #(
    .WIDTH(32),
    .DEPTH(1 << HASH_BITS)
)
hash_table (
    .clk(clk),
    .wr_en(advance && p4_valid_reg && !p4_end_reg && !p4_load_reg),
    .wr_addr(p4_hash_reg),
    .wr_data(p4_pos_reg),
    .rd_en(advance),
    .rd_addr(p3_hash_reg),
    .rd_data(table_data)
);

// The dictionary's table: written by a load's positions whose 4 bytes lie in the dictionary
// (a position in it, as the load's look-ahead counts them: at least 4 bytes to its end).
wire [DICT_WIDTH-1:0] p4_dict_pos = p4_in_value_reg[DICT_WIDTH-1:0];
wire [DICT_WIDTH-1:0] dict_table_data;
reg  [DICT_WIDTH-1:0] p5_dict_table_reg = {DICT_WIDTH{1'b0}};

ram_sdp #(
    .WIDTH(DICT_WIDTH),
    .DEPTH(1 << HASH_BITS)
)
dict_table (
    .clk(clk),
    .wr_en(advance && p4_valid_reg && !p4_end_reg && p4_load_reg
        && p4_remaining_reg >= 5'd4),
    .wr_addr(p4_hash_reg),
    .wr_data(p4_dict_pos),
    .rd_en(advance),
    .rd_addr(p3_hash_reg),
    .rd_data(dict_table_data)
);

/*
 * P5: the candidate; read 4 history bytes at it (copy A) and 1 history byte at q - offset of
 * the match in progress (copy B); its offset goes into a register.
 */

wire [31:0]          candidate = p5_forward_reg ? p6_pos_reg : p5_table_reg;
reg  [31:0]          p5_in_value_reg = 32'd0;
wire [WIN_WIDTH-1:0] verify_addr = candidate[WIN_WIDTH-1:0];

// The key's bytes in the order the four banks return them when read at an address with these
// low bits (its first byte is in that bank): the key is put in the banks' order a stage ahead,
// where it is a register, so that P7 compares without a byte rotation before the decision.
function [31:0] bank_order(input [31:0] key, input [1:0] first_bank);
    case (first_bank)
        2'd0: bank_order = key;
        2'd1: bank_order = {key[23:0], key[31:24]};
        2'd2: bank_order = {key[15:0], key[31:16]};
        default: bank_order = {key[7:0], key[31:8]};
    endcase
endfunction
wire [31:0]          verify_banks;

genvar bank;
generate
    for (bank = 0; bank < 4; bank = bank + 1) begin : copy_a
        wire [1:0]           delta = bank[1:0] - verify_addr[1:0];
        wire [WIN_WIDTH-1:0] rd_addr = verify_addr + {{(WIN_WIDTH-2){1'b0}}, delta};
        // The low address bits select the bank, not the row.
        wire unused_bank_bits = &{1'b0, rd_addr[1:0]};

        ram_sdp #(
            .WIDTH(8),
            .DEPTH(WINDOW_SIZE / 4)
        )
        ram (
            .clk(clk),
            .wr_en(ingest_byte && write_addr[1:0] == bank[1:0]),
            .wr_addr(write_addr[WIN_WIDTH-1:2]),
            .wr_data(in_byte),
            .rd_en(advance),
            .rd_addr(rd_addr[WIN_WIDTH-1:2]),
            .rd_data(verify_banks[bank*8 +: 8])
        );
    end
endgenerate

// The dictionary's copy A, read at its candidate.
wire [DICT_WIDTH-1:0] dict_verify_addr = p5_dict_table_reg;
wire [31:0]           dict_verify_banks;

generate
    for (bank = 0; bank < 4; bank = bank + 1) begin : dict_copy_a
        wire [1:0]            delta = bank[1:0] - dict_verify_addr[1:0];
        wire [DICT_WIDTH-1:0] rd_addr = dict_verify_addr + {{(DICT_WIDTH-2){1'b0}}, delta};
        wire unused_bank_bits = &{1'b0, rd_addr[1:0]};

        ram_sdp #(
            .WIDTH(8),
            .DEPTH(DICT_SIZE / 4)
        )
        ram (
            .clk(clk),
            .wr_en(dict_write && dict_write_addr[1:0] == bank[1:0]),
            .wr_addr(dict_write_addr[DICT_WIDTH-1:2]),
            .wr_data(in_byte),
            .rd_en(advance),
            .rd_addr(rd_addr[DICT_WIDTH-1:2]),
            .rd_data(dict_verify_banks[bank*8 +: 8])
        );
    end
endgenerate

// Copy B: the byte that continues the match in progress, offset_reg bytes back. Its address
// uses the offset as of three positions earlier: a new match's first three following
// positions are covered by its four verified bytes (auto_reg), so that is never stale (the
// fourth reads at P5 in the cycle after the match started at P8).
reg  [15:0] offset_reg = 16'd0;
wire [31:0] extend_src = p5_pos_reg - {16'd0, offset_reg};
wire [7:0]  extend_byte;
// Positions wrap in the window; the hash's low product bits are not part of the hash.
wire unused_bits = &{1'b0, extend_src[31:WIN_WIDTH], hash_product[31-HASH_BITS:0]};

ram_sdp #(
    .WIDTH(8),
    .DEPTH(WINDOW_SIZE)
)
copy_b (
    .clk(clk),
    .wr_en(ingest_byte),
    .wr_addr(write_addr),
    .wr_data(in_byte),
    .rd_en(advance),
    .rd_addr(extend_src[WIN_WIDTH-1:0]),
    .rd_data(extend_byte)
);

// The dictionary's copy B: the same byte when it lies before the value's start, in the
// dictionary, as many bytes before its end.
wire [DICT_WIDTH-1:0] dict_extend_src = p5_in_value_reg[DICT_WIDTH-1:0]
    + dict_len_reg[DICT_WIDTH-1:0] - offset_reg[DICT_WIDTH-1:0];
wire [7:0]            dict_extend_byte;
reg                   p6_extend_from_dict_reg = 1'b0;

ram_sdp #(
    .WIDTH(8),
    .DEPTH(DICT_SIZE)
)
dict_copy_b (
    .clk(clk),
    .wr_en(dict_write),
    .wr_addr(dict_write_addr),
    .wr_data(in_byte),
    .rd_en(advance),
    .rd_addr(dict_extend_src),
    .rd_data(dict_extend_byte)
);

/*
 * P6: check the candidate's offset (1..MAX_OFFSET, inside this value) while the history
 * bytes land in registers.
 */

reg  [31:0] p6_offset_reg = 32'd0;
reg  [31:0] p6_in_value_reg = 32'd0;
// The key in the banks' order (see bank_order), for the candidate and the dictionary's.
reg  [31:0] p6_value_key_reg = 32'd0;
wire        candidate_ok = p6_valid_reg && !p6_end_reg && !p6_load_reg
    && p6_remaining_reg >= 5'd12
    && p6_offset_reg != 32'd0 && p6_offset_reg <= MAX_OFFSET
    && p6_offset_reg <= p6_in_value_reg;
// The dictionary's candidate: inside the dictionary in force with its 4 bytes, and in reach.
reg  [31:0] p6_dict_offset_reg = 32'd0;
reg         p6_dict_inside_reg = 1'b0;
reg  [31:0] p6_dict_key_reg = 32'd0;
wire        dict_candidate_ok = p6_valid_reg && !p6_end_reg && p6_dict_reg
    && p6_remaining_reg >= 5'd12 && p6_dict_inside_reg && p6_dict_offset_reg <= MAX_OFFSET;

/*
 * P7: the candidates' 4 bytes against the key (in the banks' order), and the copy B byte
 * against q's, into registers
 */

reg        p7_candidate_ok_reg = 1'b0;
reg [15:0] p7_offset_reg = 16'd0;
reg [31:0] p7_value_key_reg = 32'd0;
reg [31:0] p7_verify_banks_reg = 32'd0;
reg [7:0]  p7_extend_byte_reg = 8'd0;
reg        p7_dict_candidate_ok_reg = 1'b0;
reg [15:0] p7_dict_offset_reg = 16'd0;
reg [31:0] p7_dict_key_reg = 32'd0;
reg [31:0] p7_dict_verify_banks_reg = 32'd0;

/*
 * P8: extend, start, or literal, from the compares' registers
 */

reg        p8_value_match_reg = 1'b0;
reg        p8_dict_match_reg = 1'b0;
// The copy B byte equals q's and at least 6 bytes remain: the match in progress may go on
// (decided in P7, so the stall starts from this flip-flop rather than a compare).
reg        p8_continues_reg = 1'b0;
reg [15:0] p8_offset_reg = 16'd0;
reg [15:0] p8_dict_offset_reg = 16'd0;

reg        in_match_reg = 1'b0, in_match_next;
reg [1:0]  auto_reg = 2'd0, auto_next;
reg [31:0] match_len_reg = 32'd0, match_len_next;
reg [15:0] offset_next;
reg [31:0] lit_count_reg = 32'd0, lit_count_next;
reg        overflow_reg = 1'b0, overflow_next;
// lit_count_reg == LIT_LIMIT, kept as a flip-flop beside the count (set wherever the count is),
// so that the stall, which enables every stage, does not start with a 32-bit compare.
reg        run_full_reg = 1'b0, run_full_next;
reg [31:0] raw_len_reg = 32'd0, raw_len_next;

reg        rec_valid;
reg        rec_final;
reg [31:0] rec_lit_count;
reg [3:0]  rec_status;
reg        lit_valid;

// A run as long as the literal buffer fills it: the buffer then holds nothing the emitter
// could drain, so such a run takes no more literals (an overflow) and starts no match.
wire run_full = run_full_reg;
// The count reaches LIT_LIMIT with one more literal of the run.
wire run_nearly_full = lit_count_reg == LIT_LIMIT - 32'd1;
wire value_match = p8_value_match_reg;
wire dict_match = p8_dict_match_reg;
wire match_starts = (value_match || dict_match) && !run_full;
wire match_continues = p8_continues_reg;

// The stall, from registers only (the compares are registers since P7): the position in P8
// waits whenever it might need room that is not there. A record is sent at a value's end or
// when the match in progress ends (exactly known here); a literal may be written unless the
// match goes on,
// the job has overflowed or the run is full (the one case it is not known here is a new
// match starting, which writes none). Waiting on a full buffer is safe then: it holds older
// sequences' literals (a run that fills it starts no match), which the emitter drains.
wire match_ends = in_match_reg && auto_reg == 2'd0 && !match_continues;
wire rec_needed = p8_end_reg || (match_ends && !overflow_reg);
wire lit_possible = !p8_end_reg && !p8_load_reg && !overflow_reg
    && (in_match_reg ? match_ends : !run_full);
assign stall = p8_valid_reg
    && ((rec_needed && !m_rec_ready) || (lit_possible && m_lit_full));

always @* begin
    in_match_next = in_match_reg;
    auto_next = auto_reg;
    match_len_next = match_len_reg;
    offset_next = offset_reg;
    lit_count_next = lit_count_reg;
    run_full_next = run_full_reg;
    overflow_next = overflow_reg;
    raw_len_next = raw_len_reg;
    rec_valid = 1'b0;
    rec_final = 1'b0;
    rec_lit_count = lit_count_reg;
    rec_status = LZ4C_OK;
    lit_valid = 1'b0;

    if (p8_valid_reg && p8_end_reg) begin
        // End of the value: the literals-only last sequence (never inside a match: a match
        // stops 5 bytes before the end). End of a load: its status, no literals.
        rec_valid = 1'b1;
        rec_final = 1'b1;
        rec_status = overflow_reg ? LZ4C_ERR_LITERALS
            : p8_load_reg && dict_len_reg == 17'd0 ? LZ4C_ERR_DICT_LENGTH : LZ4C_OK;
        // After an overflow the emitter discards the run's buffered bytes.
        rec_lit_count = overflow_reg ? LIT_LIMIT : lit_count_reg;
        lit_count_next = 32'd0;
        run_full_next = 1'b0;
        overflow_next = 1'b0;
        raw_len_next = 32'd0;
        in_match_next = 1'b0;
    end else if (p8_valid_reg && p8_load_reg) begin
        // A dictionary byte: counted, nothing else.
        raw_len_next = raw_len_reg + 32'd1;
    end else if (p8_valid_reg) begin
        raw_len_next = raw_len_reg + 32'd1;
        if (in_match_reg && (auto_reg != 2'd0 || match_continues)) begin
            match_len_next = match_len_reg + 32'd1;
            auto_next = auto_reg == 2'd0 ? 2'd0 : auto_reg - 2'd1;
        end else begin
            if (in_match_reg) begin
                // The match ends before q: its sequence is complete.
                rec_valid = !overflow_reg;
                in_match_next = 1'b0;
                lit_count_next = 32'd0;
                run_full_next = 1'b0;
            end
            if (match_starts && !overflow_reg) begin
                in_match_next = 1'b1;
                auto_next = 2'd3;
                match_len_next = 32'd1;
                offset_next = value_match ? p8_offset_reg : p8_dict_offset_reg;
            end else begin
                lit_count_next = (in_match_reg ? 32'd0 : lit_count_reg) + 32'd1;
                run_full_next = !in_match_reg && run_nearly_full;
                if (!overflow_reg) begin
                    if (!in_match_reg && run_full) begin
                        // A run longer than the literal buffer: no block can be made.
                        overflow_next = 1'b1;
                    end else begin
                        lit_valid = 1'b1;
                    end
                end
            end
        end
    end
    if (stall) begin
        in_match_next = in_match_reg;
        auto_next = auto_reg;
        match_len_next = match_len_reg;
        offset_next = offset_reg;
        lit_count_next = lit_count_reg;
        run_full_next = run_full_reg;
        overflow_next = overflow_reg;
        raw_len_next = raw_len_reg;
    end
end

assign m_lit_data = p8_byte_reg;
assign m_lit_valid = lit_valid && !stall;
assign m_rec_data = {rec_final, rec_status, rec_lit_count, offset_reg, match_len_reg};
assign m_rec_job = {p8_crc_reg, raw_len_reg};
assign m_rec_valid = rec_valid && !stall;

/*
 * Look-ahead: bytes q..q+15. A popped byte shifts the window down and an ingested byte goes
 * in at the count; both insert positions are decoded from registers, so pop (which comes
 * from the stall) only selects between them.
 */

reg [LOOK-1:0] insert_at_count;
always @* begin : insert_decode
    integer lane;
    for (lane = 0; lane < LOOK; lane = lane + 1) begin
        insert_at_count[lane] = look_count_reg == lane[LOOK_COUNT_WIDTH-1:0];
    end
end
wire [LOOK-1:0] insert_after_pop = insert_at_count >> 1;
wire [LOOK_COUNT_WIDTH-1:0] look_count_down = look_count_reg - 1'b1;
wire [LOOK_COUNT_WIDTH-1:0] look_count_up = look_count_reg + 1'b1;
wire            look_pop = pop && look_ready;

always @(posedge clk) begin
    // Input and look-ahead.
    if (s_axis_tvalid && s_axis_tready) begin
        beat_data_reg <= s_axis_tdata;
        beat_bytes_reg <= s_beat_bytes;
        beat_last_reg <= s_axis_tlast;
        beat_crc_reg <= s_axis_crc;
        beat_dict_reg <= s_axis_dict;
        beat_load_reg <= s_axis_load;
        beat_index_reg <= {INDEX_WIDTH{1'b0}};
        beat_valid_reg <= 1'b1;
    end else if (ingest) begin
        beat_index_reg <= beat_next_index[INDEX_WIDTH-1:0];
        if (beat_final_byte) begin
            beat_valid_reg <= 1'b0;
        end
    end

    begin : look_ahead
        integer lane;
        reg [7:0] kept;
        for (lane = 0; lane < LOOK; lane = lane + 1) begin
            if (look_pop) begin
                kept = lane == LOOK - 1 ? 8'd0 : look_reg[(lane+1)*8 +: 8];
            end else begin
                kept = look_reg[lane*8 +: 8];
            end
            if (ingest_byte && (look_pop ? insert_after_pop[lane] : insert_at_count[lane])) begin
                look_reg[lane*8 +: 8] <= in_byte;
            end else begin
                look_reg[lane*8 +: 8] <= kept;
            end
        end
        // Both neighbours of the count come from the register alone; pop and ingest select.
        if (look_pop && !ingest_byte) begin
            look_count_reg <= look_count_down;
        end else if (ingest_byte && !look_pop) begin
            look_count_reg <= look_count_up;
        end
    end
    if (ingest_byte) begin
        in_pos_reg <= in_pos_reg + 32'd1;
    end
    pipeline_busy_reg <= pipeline_busy || ingest;
    if (ingest) begin
        look_dict_reg <= beat_dict_reg && !beat_load_reg;
        look_load_reg <= beat_load_reg;
        frame_first_reg <= beat_final_byte && beat_last_reg;
    end
    // A load: the dictionary in force is none until its last byte is in, then the load's
    // bytes if they fit.
    if (ingest && beat_load_reg) begin
        if (frame_first_reg) begin
            dict_len_reg <= 17'd0;
        end
        if (beat_final_byte && beat_last_reg) begin
            // The length with this byte fits: compares of the count alone, selected by the
            // byte (the count saturates one past DICT_SIZE).
            dict_count_reg <= 17'd0;
            if (ingest_byte ? dict_count_reg < DICT_SIZE[16:0]
                    : dict_count_reg <= DICT_SIZE[16:0]) begin
                dict_len_reg <= ingest_byte ? dict_count_reg + 17'd1 : dict_count_reg;
            end
        end else if (ingest_byte && dict_count_reg <= DICT_SIZE[16:0]) begin
            // Counted up to one past the largest: enough to refuse a load that is too long.
            dict_count_reg <= dict_count_reg + 17'd1;
        end
    end
    if (ingest && beat_final_byte && beat_last_reg) begin
        look_ended_reg <= 1'b1;
        look_crc_reg <= beat_crc_reg;
    end
    if (pop && look_end) begin
        look_ended_reg <= 1'b0;
    end

    // Pipeline.
    if (advance) begin
        p1_valid_reg <= pop;
        p1_pos_reg <= in_pos_reg - {27'd0, look_count_reg};
        p1_key_reg <= look_reg[31:0];
        p1_remaining_reg <= remaining;
        p1_end_reg <= look_end;
        p1_crc_reg <= look_crc_reg;
        p1_dict_reg <= look_dict_reg;
        p1_load_reg <= look_load_reg;
        if (p1_end_reg && p1_valid_reg) begin
            // The next value starts at the next position.
            p1_start_reg <= p1_pos_reg;
        end

        p2_valid_reg <= p1_valid_reg;
        p2_pos_reg <= p1_pos_reg;
        p2_key_reg <= p1_key_reg;
        p2_remaining_reg <= p1_remaining_reg;
        p2_end_reg <= p1_end_reg;
        p2_crc_reg <= p1_crc_reg;
        p2_dict_reg <= p1_dict_reg;
        p2_load_reg <= p1_load_reg;
        p2_start_reg <= p1_start_reg;
        p2_product_ll_reg <= product_ll;
        p2_product_lh_reg <= product_lh;
        p2_product_hl_reg <= product_hl;

        p3_valid_reg <= p2_valid_reg;
        p3_pos_reg <= p2_pos_reg;
        p3_key_reg <= p2_key_reg;
        p3_remaining_reg <= p2_remaining_reg;
        p3_end_reg <= p2_end_reg;
        p3_crc_reg <= p2_crc_reg;
        p3_dict_reg <= p2_dict_reg;
        p3_load_reg <= p2_load_reg;
        p3_start_reg <= p2_start_reg;
        p3_hash_reg <= hash;

        p4_valid_reg <= p3_valid_reg;
        p4_pos_reg <= p3_pos_reg;
        p4_key_reg <= p3_key_reg;
        p4_remaining_reg <= p3_remaining_reg;
        p4_end_reg <= p3_end_reg;
        p4_crc_reg <= p3_crc_reg;
        p4_dict_reg <= p3_dict_reg;
        p4_load_reg <= p3_load_reg;
        p4_in_value_reg <= p3_pos_reg - p3_start_reg;
        p4_hash_reg <= p3_hash_reg;
        p4_forward_reg <= forward;

        p5_valid_reg <= p4_valid_reg;
        p5_pos_reg <= p4_pos_reg;
        p5_key_reg <= p4_key_reg;
        p5_remaining_reg <= p4_remaining_reg;
        p5_end_reg <= p4_end_reg;
        p5_crc_reg <= p4_crc_reg;
        p5_dict_reg <= p4_dict_reg;
        p5_load_reg <= p4_load_reg;
        p5_dict_table_reg <= dict_table_data;
        p5_in_value_reg <= p4_in_value_reg;
        p5_forward_reg <= p4_forward_reg;
        p5_table_reg <= table_data;

        p6_valid_reg <= p5_valid_reg;
        p6_pos_reg <= p5_pos_reg;
        p6_byte_reg <= p5_key_reg[7:0];
        p6_remaining_reg <= p5_remaining_reg;
        p6_end_reg <= p5_end_reg;
        p6_crc_reg <= p5_crc_reg;
        p6_dict_reg <= p5_dict_reg;
        p6_load_reg <= p5_load_reg;
        p6_dict_offset_reg <= p5_in_value_reg + {15'd0, dict_len_reg}
            - {{(32-DICT_WIDTH){1'b0}}, p5_dict_table_reg};
        p6_dict_inside_reg <= {{(17-DICT_WIDTH){1'b0}}, p5_dict_table_reg} + 17'd4
            <= dict_len_reg;
        p6_dict_key_reg <= bank_order(p5_key_reg, dict_verify_addr[1:0]);
        p6_extend_from_dict_reg <= p5_in_value_reg < {16'd0, offset_reg};
        p6_in_value_reg <= p5_in_value_reg;
        p6_offset_reg <= p5_pos_reg - candidate;
        p6_value_key_reg <= bank_order(p5_key_reg, verify_addr[1:0]);

        p7_valid_reg <= p6_valid_reg;
        p7_byte_reg <= p6_byte_reg;
        p7_remaining_reg <= p6_remaining_reg;
        p7_end_reg <= p6_end_reg;
        p7_crc_reg <= p6_crc_reg;
        p7_load_reg <= p6_load_reg;
        p7_dict_candidate_ok_reg <= dict_candidate_ok;
        p7_dict_offset_reg <= p6_dict_offset_reg[15:0];
        p7_dict_key_reg <= p6_dict_key_reg;
        p7_dict_verify_banks_reg <= dict_verify_banks;
        p7_candidate_ok_reg <= candidate_ok;
        p7_offset_reg <= p6_offset_reg[15:0];
        p7_value_key_reg <= p6_value_key_reg;
        p7_verify_banks_reg <= verify_banks;
        p7_extend_byte_reg <= p6_extend_from_dict_reg ? dict_extend_byte : extend_byte;

        p8_valid_reg <= p7_valid_reg;
        p8_byte_reg <= p7_byte_reg;
        p8_end_reg <= p7_end_reg;
        p8_crc_reg <= p7_crc_reg;
        p8_load_reg <= p7_load_reg;
        p8_offset_reg <= p7_offset_reg;
        p8_dict_offset_reg <= p7_dict_offset_reg;
        p8_value_match_reg <= p7_candidate_ok_reg && p7_value_key_reg == p7_verify_banks_reg;
        p8_dict_match_reg <= p7_dict_candidate_ok_reg
            && p7_dict_key_reg == p7_dict_verify_banks_reg;
        p8_continues_reg <= p7_extend_byte_reg == p7_byte_reg && p7_remaining_reg >= 5'd6;
    end

    in_match_reg <= in_match_next;
    auto_reg <= auto_next;
    match_len_reg <= match_len_next;
    offset_reg <= offset_next;
    lit_count_reg <= lit_count_next;
    run_full_reg <= run_full_next;
    overflow_reg <= overflow_next;
    raw_len_reg <= raw_len_next;

    if (rst) begin
        beat_valid_reg <= 1'b0;
        look_count_reg <= {LOOK_COUNT_WIDTH{1'b0}};
        look_ended_reg <= 1'b0;
        p1_valid_reg <= 1'b0;
        p2_valid_reg <= 1'b0;
        p3_valid_reg <= 1'b0;
        p4_valid_reg <= 1'b0;
        p5_valid_reg <= 1'b0;
        p6_valid_reg <= 1'b0;
        p7_valid_reg <= 1'b0;
        p8_valid_reg <= 1'b0;
        in_match_reg <= 1'b0;
        auto_reg <= 2'd0;
        lit_count_reg <= 32'd0;
        run_full_reg <= 1'b0;
        overflow_reg <= 1'b0;
        raw_len_reg <= 32'd0;
        p1_start_reg <= in_pos_reg;
        frame_first_reg <= 1'b1;
        dict_count_reg <= 17'd0;
        dict_len_reg <= 17'd0;
    end
end

endmodule

`resetall
`default_nettype wire
