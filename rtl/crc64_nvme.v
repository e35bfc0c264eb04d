/*
 * lzcache — inline CRC-64/NVME over an AXI-Stream frame
 *
 * CRC-64/NVME: polynomial 0xAD93D23594C93659, reflected, initial value and final XOR all
 * ones; the CRC of "123456789" is 0xAE8B14860A799888.
 */

`resetall
`timescale 1ns / 1ps
`default_nettype none

// Passes an AXI-Stream through unchanged and presents the CRC-64 of each frame with its last
// beat, at one full beat per cycle.
//
// How a partial last beat is handled without a network per byte count: its empty byte lanes
// are fed as zeros through the one full-width network, which computes the CRC of the frame
// followed by P zero bytes. Appending a zero byte multiplies the (pre-XOR) register by x^8
// modulo the polynomial, which is invertible, so a second, small stage multiplies by x^-8P:
// log2(KEEP_WIDTH)+1 optional 64x64 steps selected by the bits of P, one pipeline stage each.
// Latency: log2(KEEP_WIDTH)+3 cycles from input to output beat (6 at 64 bits, 9 at 512).
//
// Frames must be packed: every beat but the last has all tkeep bits set, and the last beat's
// tkeep is contiguous from lane 0 (a last beat with no bytes is allowed).
module crc64_nvme #
(
    // Width of the stream data in bits: 64, 128, 256 or 512
    parameter DATA_WIDTH = 512,
    // Width of tkeep: one bit per byte
    parameter KEEP_WIDTH = DATA_WIDTH/8,
    // Generator polynomial in normal (MSB-first) form
    parameter [63:0] POLY = 64'hAD93D23594C93659,
    // Register value at the start of each frame
    parameter [63:0] INIT = 64'hFFFFFFFFFFFFFFFF,
    // Value XORed into the register to give the CRC
    parameter [63:0] XOROUT = 64'hFFFFFFFFFFFFFFFF
)
(
    input  wire                  clk,
    input  wire                  rst,

    /*
     * AXI-Stream input
     */
    input  wire [DATA_WIDTH-1:0] s_axis_tdata,
    input  wire [KEEP_WIDTH-1:0] s_axis_tkeep,
    input  wire                  s_axis_tvalid,
    output wire                  s_axis_tready,
    input  wire                  s_axis_tlast,

    /*
     * AXI-Stream output (the input, unchanged)
     */
    output wire [DATA_WIDTH-1:0] m_axis_tdata,
    output wire [KEEP_WIDTH-1:0] m_axis_tkeep,
    output wire                  m_axis_tvalid,
    input  wire                  m_axis_tready,
    output wire                  m_axis_tlast,

    /*
     * CRC of the frame, valid on the output beat that carries tlast
     */
    output wire [63:0]           m_axis_crc
);

// Bits needed to count the empty byte lanes of a last beat (0..KEEP_WIDTH).
localparam PAD_WIDTH = $clog2(KEEP_WIDTH) + 1;

initial begin
    if (DATA_WIDTH != 64 && DATA_WIDTH != 128 && DATA_WIDTH != 256 && DATA_WIDTH != 512) begin
        $error("Error: DATA_WIDTH must be 64, 128, 256 or 512 (instance %m)");
        $finish;
    end
    if (KEEP_WIDTH * 8 != DATA_WIDTH) begin
        $error("Error: KEEP_WIDTH must be DATA_WIDTH/8 (instance %m)");
        $finish;
    end
end

/*
 * Masks computed at elaboration from the polynomial.
 *
 * The register is kept in reflected (LSB-first) form, as software does: feeding data bit d
 * is fb = reg[0] ^ d; reg = (reg >> 1) ^ (fb ? POLY_R : 0). That is linear over GF(2), so each
 * next-state bit is the parity of a fixed subset of {state, data} bits. Two facts keep the
 * elaboration cheap (yosys evaluates constant functions slowly):
 *  - the register acts exactly like 64 more data bits XORed into the first 64 bits of a beat
 *    (the identity behind slicing-by-8 CRC software), so only data masks are needed;
 *  - in this form, bit j of the register is the coefficient of x^(63-j), and advancing one bit
 *    multiplies by x, so a matrix column is its neighbour advanced by one bit.
 * Functions are written without nested calls for the same reason.
 */

function [63:0] reflect64(input [63:0] value);
    integer k;
    begin
        for (k = 0; k < 64; k = k + 1) begin
            reflect64[k] = value[63-k];
        end
    end
endfunction

localparam [63:0] POLY_R = reflect64(POLY);

// Row out_bit of the beat's matrix: which beat bits feed register bit out_bit. Column d of
// that matrix is the register after a beat whose only set bit is data bit d (d alone sets the
// register to POLY_R, then DATA_WIDTH-1-d zero bits advance it). Each row advances its own
// 64-bit column instead of reading a DATA_WIDTH x 64 matrix parameter: Verilator took 15 s to
// elaborate those reads at 512 bits, 0.9 s this way; yosys takes the same time either way.
function [DATA_WIDTH-1:0] beat_row(input [5:0] out_bit);
    reg [63:0] column;
    integer d;
    begin
        column = POLY_R;
        for (d = DATA_WIDTH - 1; d >= 0; d = d - 1) begin
            beat_row[d] = column[out_bit];
            column = (column >> 1) ^ (column[0] ? POLY_R : 64'd0);
        end
    end
endfunction

// Column j: register bit j after removing `bytes` trailing zero bytes, i.e. multiplying by
// x^(-8*bytes). The inverse of one bit step recovers the shifted-out bit from bit 63 (set in
// POLY_R because the polynomial has a constant term).
function [64*64-1:0] rewind_matrix(input integer bytes);
    reg [63:0] column;
    reg out_bit;
    integer j, k;
    begin
        // x^0 is bit 63; rewind it.
        column = 64'h8000000000000000;
        for (k = 0; k < 8 * bytes; k = k + 1) begin
            out_bit = column[63];
            column = ((column ^ (out_bit ? POLY_R : 64'd0)) << 1) | {63'd0, out_bit};
        end
        // Higher powers of x: advance one bit per column.
        for (j = 63; j >= 0; j = j - 1) begin
            rewind_matrix[j*64 +: 64] = column;
            column = (column >> 1) ^ (column[0] ? POLY_R : 64'd0);
        end
    end
endfunction

// Row out_bit of a 64x64 matrix stored by columns.
function [63:0] square_row(input [64*64-1:0] matrix, input integer out_bit);
    integer j;
    begin
        for (j = 0; j < 64; j = j + 1) begin
            square_row[j] = matrix[j*64 + out_bit];
        end
    end
endfunction

/*
 * Stage 1: the full-width update, once per accepted beat.
 */

reg  [63:0]           state_reg = INIT, state_next;
reg  [DATA_WIDTH-1:0] stage_data_reg = {DATA_WIDTH{1'b0}};
reg  [KEEP_WIDTH-1:0] stage_keep_reg = {KEEP_WIDTH{1'b0}};
reg                   stage_last_reg = 1'b0;
reg  [63:0]           stage_crc_reg = 64'd0;
reg  [PAD_WIDTH-1:0]  stage_pad_reg = {PAD_WIDTH{1'b0}}, stage_pad_next;
reg                   stage_valid_reg = 1'b0, stage_valid_next;

// The whole pipeline advances together when the output register can take a beat; its ready
// comes from a flip-flop, so s_axis_tready does too.
wire                  advance;
wire                  accept = s_axis_tvalid && advance;

assign s_axis_tready = advance;

// Data with empty lanes zeroed, so a partial beat acts as the frame plus trailing zero bytes.
reg  [DATA_WIDTH-1:0] masked_data;
wire [63:0]           updated;

integer lane;
always @* begin
    for (lane = 0; lane < KEEP_WIDTH; lane = lane + 1) begin
        masked_data[lane*8 +: 8] = s_axis_tkeep[lane] ? s_axis_tdata[lane*8 +: 8] : 8'd0;
    end
end

// The register joins the data in the first 64 bits of the beat.
wire [DATA_WIDTH-1:0] beat_input = masked_data ^ {{DATA_WIDTH-64{1'b0}}, state_reg};

genvar i;
generate
    for (i = 0; i < 64; i = i + 1) begin : update_bit
        localparam [DATA_WIDTH-1:0] MASK = beat_row(i);
        assign updated[i] = ^(beat_input & MASK);
    end
endgenerate

// Empty byte lanes of the beat. tkeep is contiguous from lane 0, so the last kept lane is the
// one whose upper neighbour is empty; encoding its index is a shallow OR tree (a serial count
// of the kept bits would be a long carry chain). With n kept lanes, the pad is
// KEEP_WIDTH - n = ~(n - 1) in the low bits, or KEEP_WIDTH when no lane is kept.
wire [KEEP_WIDTH-1:0] last_kept_lane = s_axis_tkeep & ~(s_axis_tkeep >> 1);
reg  [PAD_WIDTH-2:0]  last_kept_index;

integer pad_lane, pad_bit;
always @* begin
    for (pad_bit = 0; pad_bit < PAD_WIDTH - 1; pad_bit = pad_bit + 1) begin
        last_kept_index[pad_bit] = 1'b0;
        for (pad_lane = 0; pad_lane < KEEP_WIDTH; pad_lane = pad_lane + 1) begin
            if (((pad_lane >> pad_bit) & 1) == 1) begin
                last_kept_index[pad_bit] = last_kept_index[pad_bit] | last_kept_lane[pad_lane];
            end
        end
    end
end

wire [PAD_WIDTH-1:0] beat_pad = s_axis_tkeep[0] ? {1'b0, ~last_kept_index} : KEEP_WIDTH[PAD_WIDTH-1:0];

always @* begin
    state_next = state_reg;
    stage_valid_next = stage_valid_reg;
    stage_pad_next = stage_pad_reg;

    if (advance) begin
        stage_valid_next = s_axis_tvalid;
    end
    if (accept) begin
        state_next = s_axis_tlast ? INIT : updated;
        // Only a last beat may be partial.
        stage_pad_next = s_axis_tlast ? beat_pad : {PAD_WIDTH{1'b0}};
    end
end

always @(posedge clk) begin
    state_reg <= state_next;
    stage_valid_reg <= stage_valid_next;
    stage_pad_reg <= stage_pad_next;
    if (accept) begin
        stage_data_reg <= s_axis_tdata;
        stage_keep_reg <= s_axis_tkeep;
        stage_last_reg <= s_axis_tlast;
        stage_crc_reg <= updated;
    end

    if (rst) begin
        state_reg <= INIT;
        stage_valid_reg <= 1'b0;
    end
end

/*
 * Stages 2 to PAD_WIDTH+1: remove the zero bytes of a partial last beat, one rewind step
 * (a 64x64 matrix, selected by one bit of the pad) per stage, so that each cycle holds one
 * 64-input parity and a select; then the final XOR into the output register.
 */

genvar s;
generate
    for (s = 0; s < PAD_WIDTH; s = s + 1) begin : rewind_stage
        localparam [64*64-1:0] MATRIX = rewind_matrix(1 << s);

        // The beat as it leaves this stage; stage s still needs the pad bits s and above.
        reg [DATA_WIDTH-1:0] data_reg = {DATA_WIDTH{1'b0}};
        reg [KEEP_WIDTH-1:0] keep_reg = {KEEP_WIDTH{1'b0}};
        reg                  last_reg = 1'b0;
        reg                  valid_reg = 1'b0;
        reg [63:0]           crc_reg = 64'd0;
        reg [PAD_WIDTH-1:0]  pad_reg = {PAD_WIDTH{1'b0}};

        wire [DATA_WIDTH-1:0] source_data;
        wire [KEEP_WIDTH-1:0] source_keep;
        wire                  source_last;
        wire                  source_valid;
        wire [63:0]           source_crc;
        wire [PAD_WIDTH-1:0]  source_pad;
        wire [63:0]           applied;

        if (s == 0) begin : from_update
            assign source_data = stage_data_reg;
            assign source_keep = stage_keep_reg;
            assign source_last = stage_last_reg;
            assign source_valid = stage_valid_reg;
            assign source_crc = stage_crc_reg;
            assign source_pad = stage_pad_reg;
        end else begin : from_previous
            assign source_data = rewind_stage[s-1].data_reg;
            assign source_keep = rewind_stage[s-1].keep_reg;
            assign source_last = rewind_stage[s-1].last_reg;
            assign source_valid = rewind_stage[s-1].valid_reg;
            assign source_crc = rewind_stage[s-1].crc_reg;
            assign source_pad = rewind_stage[s-1].pad_reg;
        end

        for (i = 0; i < 64; i = i + 1) begin : rewind_bit_out
            localparam [63:0] MASK = square_row(MATRIX, i);
            assign applied[i] = ^(source_crc & MASK);
        end

        always @(posedge clk) begin
            if (advance) begin
                valid_reg <= source_valid;
                data_reg <= source_data;
                keep_reg <= source_keep;
                last_reg <= source_last;
                crc_reg <= source_pad[s] ? applied : source_crc;
                pad_reg <= source_pad;
            end

            if (rst) begin
                valid_reg <= 1'b0;
            end
        end
    end
endgenerate

localparam LAST_STAGE = PAD_WIDTH - 1;

// After the last rewind step no pad bit is needed (synthesis drops the register).
wire unused_pad = &{1'b0, rewind_stage[LAST_STAGE].pad_reg};

wire [63:0] frame_crc = rewind_stage[LAST_STAGE].crc_reg ^ XOROUT;

/*
 * Output register with skid, so m_axis_tready reaches s_axis_tready only through flip-flops.
 */

axis_skid_buffer #(
    .WIDTH(DATA_WIDTH + KEEP_WIDTH + 1 + 64)
)
output_register (
    .clk(clk),
    .rst(rst),
    .s_payload({rewind_stage[LAST_STAGE].data_reg, rewind_stage[LAST_STAGE].keep_reg,
                rewind_stage[LAST_STAGE].last_reg, frame_crc}),
    .s_valid(rewind_stage[LAST_STAGE].valid_reg),
    .s_ready(advance),
    .m_payload({m_axis_tdata, m_axis_tkeep, m_axis_tlast, m_axis_crc}),
    .m_valid(m_axis_tvalid),
    .m_ready(m_axis_tready)
);

endmodule

`resetall
`default_nettype wire
