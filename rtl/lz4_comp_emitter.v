/*
 * lzcache — LZ4 block compressor: sequence emitter
 *
 * Writes the LZ4 block format — token, length extension bytes, literals, offset — from the
 * match finder's sequence records and literal bytes.
 */

`resetall
`timescale 1ns / 1ps
`default_nettype none

// LZ4 sequence emitter. Literal bytes wait in a buffer of LIT_BUFFER bytes (8 byte banks,
// so up to 8 leave per cycle) until their sequence's record arrives: a token holds the
// literal count, so no literal can leave before its run has ended.
//
// Rate: a sequence takes one cycle for its token, one per 8 literals, one for its offset and
// one per length extension byte, never more cycles than the match finder spent on its input
// bytes (a literal and a 4-byte match take 4 input cycles and 3 here), so the emitter keeps
// up with one input byte per cycle.
//
// Each job ends with an end chunk (no bytes) whose record is the completion:
//   [63:0] CRC-64/NVME of the input, [95:64] block length, [99:96] status,
//   [100] incompressible: no usable block, or a block not smaller than the input.
module lz4_comp_emitter #
(
    // Bytes of the literal buffer (a power of two, at least 64)
    parameter LIT_BUFFER = 65536
)
(
    input  wire         clk,
    input  wire         rst,

    /*
     * Literal bytes from lz4_comp_matcher
     */
    input  wire [7:0]   s_lit_data,
    input  wire         s_lit_valid,
    output wire         s_lit_full,

    /*
     * Sequence records from lz4_comp_matcher (see there)
     */
    input  wire [84:0]  s_rec_data,
    input  wire [95:0]  s_rec_job,
    input  wire         s_rec_valid,
    output wire         s_rec_ready,

    /*
     * Block bytes: m_data lanes 0..m_count-1; m_end closes a job, m_user is its completion
     */
    output wire [63:0]  m_data,
    output wire [3:0]   m_count,
    output wire         m_end,
    output wire [127:0] m_user,
    output wire         m_valid,
    input  wire         m_ready
);

/* verilator lint_off UNUSEDPARAM */
`include "lz4_comp_status.vh"
/* verilator lint_on UNUSEDPARAM */

localparam LIT_WIDTH = $clog2(LIT_BUFFER);
localparam [LIT_WIDTH:0] LIT_CAPACITY = {1'b1, {LIT_WIDTH{1'b0}}};

initial begin
    if (LIT_BUFFER < 64 || (1 << LIT_WIDTH) != LIT_BUFFER) begin
        $error("Error: LIT_BUFFER must be a power of two, at least 64 (instance %m)");
        $finish;
    end
end

localparam [2:0]
    STATE_IDLE = 3'd0,
    STATE_LIT_EXT = 3'd1,
    STATE_LITS = 3'd2,
    STATE_OFFSET = 3'd3,
    STATE_MATCH_EXT = 3'd4,
    STATE_END = 3'd5;

/*
 * Records
 */

wire [84:0] rec_data;
wire [95:0] rec_job;
wire [7:0]  rec_token;
wire        rec_valid;
reg         rec_pop;

// A sequence's token, worked out as its record enters the FIFO (from the record register's
// flip-flops), so the token cycle only selects it: the 32-bit length compares stay out of the
// path from the FIFO's read port to the block register.
wire        s_rec_final = s_rec_data[84];
wire [31:0] s_rec_lits = s_rec_data[79:48];
wire [31:0] s_rec_match = s_rec_data[31:0];
wire [31:0] s_match_extra = s_rec_match - 32'd4;
wire [3:0]  s_lit_nibble = s_rec_lits >= 32'd15 ? 4'd15 : s_rec_lits[3:0];
wire [3:0]  s_match_nibble = s_rec_final ? 4'd0 : (s_match_extra >= 32'd15 ? 4'd15 : s_match_extra[3:0]);

wire [8+96+85-1:0] fifo_rec;
wire              fifo_rec_valid;
wire              fifo_rec_ready;

sync_fifo #(
    .WIDTH(8 + 96 + 85),
    .DEPTH(16)
)
records (
    .clk(clk),
    .rst(rst),
    .s_data({s_lit_nibble, s_match_nibble, s_rec_job, s_rec_data}),
    .s_valid(s_rec_valid),
    .s_ready(s_rec_ready),
    .m_data(fifo_rec),
    .m_valid(fifo_rec_valid),
    .m_ready(fifo_rec_ready)
);

// The sequence writer reads its record from flip-flops: the FIFO's read port is LUT RAM, and
// its data through the writer's decisions into the block register was the compressor's
// critical path once the literal banks were block RAM. A cycle more per record costs nothing
// at one sequence per several cycles, and a literal is then read even later after its write.
axis_skid_buffer #(
    .WIDTH(8 + 96 + 85)
)
record_register (
    .clk(clk),
    .rst(rst),
    .s_payload(fifo_rec),
    .s_valid(fifo_rec_valid),
    .s_ready(fifo_rec_ready),
    .m_payload({rec_token, rec_job, rec_data}),
    .m_valid(rec_valid),
    .m_ready(rec_pop)
);

wire        rec_final = rec_data[84];
wire [3:0]  rec_status = rec_data[83:80];
wire [31:0] rec_lits = rec_data[79:48];
wire [15:0] rec_offset = rec_data[47:32];
wire [31:0] rec_match = rec_data[31:0];

/*
 * Literal buffer
 */

reg  [LIT_WIDTH:0] wr_ptr_reg = {(LIT_WIDTH+1){1'b0}};
reg  [LIT_WIDTH:0] rd_ptr_reg = {(LIT_WIDTH+1){1'b0}}, rd_ptr_next;
// rd_ptr_reg + 32, advanced by the same amounts beside it: the next row's address then comes
// from its own adder, not from a second carry chain after the pointer's.
localparam [LIT_WIDTH:0] LIT_ROW_STEP = 32;
reg  [LIT_WIDTH:0] rd_ptr_up_reg = LIT_ROW_STEP, rd_ptr_up_next;
wire [LIT_WIDTH:0] buffered = wr_ptr_reg - rd_ptr_reg;

// Registered and two bytes early: "full" when the buffer held LIT_BUFFER - 2 or more bytes
// last cycle, as the write pointer counted them (a literal is counted a cycle after it
// arrives, see below). At most one literal arrives per cycle, so a literal written while this
// is low always has room; the flag is a flip-flop, so the matcher's stall (which enables
// every one of its stages) does not start with the pointer subtraction. It cannot hold a run
// waiting on itself: the matcher ends a run at LIT_BUFFER - 2 literals.
localparam [LIT_WIDTH:0] LIT_NEARLY_FULL = LIT_CAPACITY - {{(LIT_WIDTH-1){1'b0}}, 2'd2};
reg lit_full_reg = 1'b0;
assign s_lit_full = lit_full_reg;

always @(posedge clk) begin
    lit_full_reg <= buffered >= LIT_NEARLY_FULL;
    if (rst) begin
        lit_full_reg <= 1'b0;
    end
end

// 32 one-byte banks (address a in bank a mod 32), each read every cycle at the row of the
// address in [rd_ptr_reg, rd_ptr_reg + 32) that it holds, and the read data registered.
// Why 32 banks for 8 bytes a cycle: the read address then comes from a register (not from
// this cycle's consumption, a path through the sequence writer into the block RAM address),
// the block RAM's slow clock-to-out meets only a flip-flop, and the 8 bytes at the pointer
// are still in the window read two cycles earlier, since at most 16 are consumed in two
// cycles. A literal is read at least two cycles after it was written: its record reaches the
// sequence writer through the record FIFO and a token cycle first.
localparam LIT_BANKS = 32;

wire [LIT_BANKS*8-1:0] lit_banks;
reg  [LIT_BANKS*8-1:0] lit_window_reg = {LIT_BANKS*8{1'b0}};
// The read pointer jumped last cycle (literals dropped, or reset).
reg                    dropped_reg = 1'b0;
// A literal lands in registers in the cycle it arrives and is written into the banks, at the
// write pointer, and counted in the next: the matcher's decision reaches only the flip-flops
// of one byte and its valid bit, never the pointer's enable or the banks' write ports. The
// record that needs it arrives through a register too, so it is still read at least two
// cycles after it is written.
reg                    lit_wr_valid_reg = 1'b0;
reg  [7:0]             lit_wr_data_reg = 8'd0;
// The read pointer's row and the row after it, registered with the pointer, so no adder
// sits between the pointer and the banks' addresses.
reg  [LIT_WIDTH-6:0]   rd_row_reg = {(LIT_WIDTH-5){1'b0}};
reg  [LIT_WIDTH-6:0]   rd_row_next_reg = {{(LIT_WIDTH-6){1'b0}}, 1'b1};

always @(posedge clk) begin
    lit_window_reg <= lit_banks;
end

genvar bank;
generate
    for (bank = 0; bank < LIT_BANKS; bank = bank + 1) begin : lit_bank
        // The pointer's row, or the next one for the banks below the pointer's bank (never
        // the last bank).
        wire [LIT_WIDTH-6:0] rd_row;
        if (bank == LIT_BANKS - 1) begin : top_bank
            assign rd_row = rd_row_reg;
        end else begin : lower_bank
            assign rd_row = bank[4:0] < rd_ptr_reg[4:0] ? rd_row_next_reg : rd_row_reg;
        end

        ram_sdp #(
            .WIDTH(8),
            .DEPTH(LIT_BUFFER / LIT_BANKS),
            .BLOCK_RAM(1)
        )
        ram (
            .clk(clk),
            .wr_en(lit_wr_valid_reg && wr_ptr_reg[4:0] == bank[4:0]),
            .wr_addr(wr_ptr_reg[LIT_WIDTH-1:5]),
            .wr_data(lit_wr_data_reg),
            .rd_en(1'b1),
            .rd_addr(rd_row),
            .rd_data(lit_banks[bank*8 +: 8])
        );
    end
endgenerate

reg [63:0] lits_at_ptr;
integer lane;
always @* begin
    for (lane = 0; lane < 8; lane = lane + 1) begin
        lits_at_ptr[lane*8 +: 8] = lit_window_reg[(rd_ptr_reg[4:0] + lane[4:0])*8 +: 8];
    end
end

/*
 * Sequence writer
 */

reg [2:0]  state_reg = STATE_IDLE, state_next;
reg [31:0] lits_reg = 32'd0, lits_next;
reg [31:0] ext_reg = 32'd0, ext_next;
reg [15:0] offset_reg = 16'd0, offset_next;
reg [31:0] match_reg = 32'd0, match_next;
reg        final_reg = 1'b0, final_next;
reg [3:0]  status_reg = LZ4C_OK, status_next;
reg [95:0] job_reg = 96'd0, job_next;
reg [31:0] block_len_reg = 32'd0, block_len_next;
// Bytes sent in the last cycle, not yet in block_len_reg.
reg [3:0]  sent_count_reg = 4'd0;

reg [63:0] out_data;
reg [3:0]  out_count;
reg        out_end;
reg        out_valid;

// The compares against constants are written as bit tests: yosys maps `<` and `>=` to carry
// chains, and these start the paths through the next pointer and counts (the compressor's
// critical path on the ECP5 went ext_reg >= 255 -> ext_next -> the literal read row).
wire        lits_below_8 = lits_reg[31:3] == 29'd0;
wire        lits_at_most_8 = lits_reg[31:4] == 28'd0 && (!lits_reg[3] || lits_reg[2:0] == 3'd0);
wire        ext_below_255 = ext_reg[31:8] == 24'd0 && ext_reg[7:0] != 8'hff;
wire        match_from_19 = match_reg[31:5] != 27'd0 || match_reg[4:0] >= 5'd19;
wire [31:0] lits_chunk = lits_below_8 ? lits_reg : 32'd8;
wire [31:0] match_ext_total = match_reg - 32'd19;
wire [7:0]  ext_byte = ext_below_255 ? ext_reg[7:0] : 8'd255;
// The state after the literals.
wire [2:0]  after_lits = final_reg ? STATE_END : STATE_OFFSET;

always @* begin
    state_next = state_reg;
    lits_next = lits_reg;
    ext_next = ext_reg;
    offset_next = offset_reg;
    match_next = match_reg;
    final_next = final_reg;
    status_next = status_reg;
    job_next = job_reg;
    block_len_next = block_len_reg;
    rd_ptr_next = rd_ptr_reg;
    rd_ptr_up_next = rd_ptr_up_reg;
    rec_pop = 1'b0;

    out_data = 64'd0;
    out_count = 4'd0;
    out_end = 1'b0;
    out_valid = 1'b0;

    case (state_reg)
        STATE_IDLE: begin
            // After a drop the literal window is a cycle behind the pointer: wait one cycle,
            // so the next record's literals are read at the new pointer.
            if (rec_valid && !dropped_reg) begin
                if (rec_final && rec_status != LZ4C_OK) begin
                    // No usable block: drop the run's buffered literals, then end the job
                    // in STATE_END, its completion from registers.
                    status_next = rec_status;
                    job_next = rec_job;
                    rec_pop = 1'b1;
                    rd_ptr_next = rd_ptr_reg + rec_lits[LIT_WIDTH:0];
                    rd_ptr_up_next = rd_ptr_up_reg + rec_lits[LIT_WIDTH:0];
                    state_next = STATE_END;
                end else begin
                    out_data[7:0] = rec_token;
                    out_count = 4'd1;
                    out_valid = 1'b1;
                    if (m_ready) begin
                        rec_pop = 1'b1;
                        lits_next = rec_lits;
                        ext_next = rec_lits - 32'd15;
                        offset_next = rec_offset;
                        match_next = rec_match;
                        final_next = rec_final;
                        status_next = rec_status;
                        job_next = rec_job;
                        if (rec_lits >= 32'd15) begin
                            state_next = STATE_LIT_EXT;
                        end else if (rec_lits != 32'd0) begin
                            state_next = STATE_LITS;
                        end else begin
                            state_next = rec_final ? STATE_END : STATE_OFFSET;
                        end
                    end
                end
            end
        end
        STATE_LIT_EXT, STATE_MATCH_EXT: begin
            out_data[7:0] = ext_byte;
            out_count = 4'd1;
            out_valid = 1'b1;
            if (m_ready) begin
                ext_next = ext_reg - {24'd0, ext_byte};
                if (ext_below_255) begin
                    state_next = state_reg == STATE_LIT_EXT ? STATE_LITS : STATE_IDLE;
                end
            end
        end
        STATE_LITS: begin
            out_data = lits_at_ptr;
            out_count = lits_chunk[3:0];
            out_valid = 1'b1;
            if (m_ready) begin
                rd_ptr_next = rd_ptr_reg + lits_chunk[LIT_WIDTH:0];
                rd_ptr_up_next = rd_ptr_up_reg + lits_chunk[LIT_WIDTH:0];
                lits_next = lits_reg - lits_chunk;
                if (lits_at_most_8) begin
                    state_next = after_lits;
                end
            end
        end
        STATE_OFFSET: begin
            out_data[15:0] = offset_reg;
            out_count = 4'd2;
            out_valid = 1'b1;
            if (m_ready) begin
                ext_next = match_ext_total;
                state_next = match_from_19 ? STATE_MATCH_EXT : STATE_IDLE;
            end
        end
        STATE_END: begin
            out_end = 1'b1;
            out_valid = 1'b1;
            if (m_ready) begin
                state_next = STATE_IDLE;
            end
        end
        default: begin
            state_next = STATE_IDLE;
        end
    endcase

    // The count sent last cycle is added this cycle (from its register, so the sequence
    // writer's count never meets the length's adder); a job's end starts the next at zero.
    block_len_next = out_valid && m_ready && out_end ? 32'd0
        : block_len_reg + {28'd0, sent_count_reg};
end

// Every job ends in STATE_END, so its completion comes from registers: status_reg, job_reg
// and the block's length (a failed job is incompressible whatever its length).
wire [31:0] raw_len = job_reg[31:0];
// The block's length: in the end state the last chunk's count may still be on its way in.
wire [31:0] block_len = block_len_reg + {28'd0, sent_count_reg};
wire        incompressible = status_reg != LZ4C_OK || block_len >= raw_len;

assign m_data = out_data;
assign m_count = out_count;
assign m_end = out_end;
// The completion, each field at its named position (lz4_comp_status.vh).
reg [127:0] completion;
always @* begin
    completion = 128'd0;
    completion[LZ4C_DONE_CRC_LSB +: 64] = job_reg[95:32];
    completion[LZ4C_DONE_LENGTH_LSB +: 32] = block_len;
    completion[LZ4C_DONE_STATUS_LSB +: 4] = status_reg;
    completion[LZ4C_DONE_INCOMPRESSIBLE_BIT] = incompressible;
end

assign m_user = completion;
assign m_valid = out_valid;

always @(posedge clk) begin
    state_reg <= state_next;
    lits_reg <= lits_next;
    ext_reg <= ext_next;
    offset_reg <= offset_next;
    match_reg <= match_next;
    final_reg <= final_next;
    status_reg <= status_next;
    job_reg <= job_next;
    block_len_reg <= block_len_next;
    sent_count_reg <= out_valid && m_ready ? out_count : 4'd0;
    rd_ptr_reg <= rd_ptr_next;
    rd_row_reg <= rd_ptr_next[LIT_WIDTH-1:5];
    rd_ptr_up_reg <= rd_ptr_up_next;
    rd_row_next_reg <= rd_ptr_up_next[LIT_WIDTH-1:5];
    dropped_reg <= state_reg == STATE_IDLE && rec_pop && rec_final && rec_status != LZ4C_OK;
    lit_wr_valid_reg <= s_lit_valid;
    lit_wr_data_reg <= s_lit_data;
    if (lit_wr_valid_reg) begin
        wr_ptr_reg <= wr_ptr_reg + 1'b1;
    end

    if (rst) begin
        state_reg <= STATE_IDLE;
        block_len_reg <= 32'd0;
        sent_count_reg <= 4'd0;
        wr_ptr_reg <= {(LIT_WIDTH+1){1'b0}};
        rd_ptr_reg <= {(LIT_WIDTH+1){1'b0}};
        rd_ptr_up_reg <= LIT_ROW_STEP;
        rd_row_reg <= {(LIT_WIDTH-5){1'b0}};
        rd_row_next_reg <= {{(LIT_WIDTH-6){1'b0}}, 1'b1};
        dropped_reg <= 1'b1;
        lit_wr_valid_reg <= 1'b0;
    end
end

endmodule

`resetall
`default_nettype wire
