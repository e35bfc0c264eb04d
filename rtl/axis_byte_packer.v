/*
 * lzcache — byte packer: variable-size chunks into full AXI-Stream beats
 */

`resetall
`timescale 1ns / 1ps
`default_nettype none

// Packs chunks of 0..IN_BYTES bytes into packed AXI-Stream frames: every beat full but the
// last, whose tkeep is contiguous from lane 0. A chunk flagged `end` (its bytes included)
// closes the frame; its record leaves on tuser of the frame's last beat. A frame with no
// bytes is one beat with tkeep all zero.
//
// One chunk per cycle in, one beat per cycle out: the accumulator holds a beat and two
// chunks, so s_ready depends only on registers and m_axis_tready never reaches it.
// A full beat is held until the next byte arrives, so that the frame's last beat is never
// an empty one after a full beat.
module axis_byte_packer #
(
    // Width of the output stream in bits
    parameter DATA_WIDTH = 512,
    // Width of tkeep: one bit per byte
    parameter KEEP_WIDTH = DATA_WIDTH/8,
    // Largest chunk in bytes (at most KEEP_WIDTH)
    parameter IN_BYTES = 32,
    // Width of a chunk's byte count
    parameter COUNT_WIDTH = $clog2(IN_BYTES + 1),
    // Width of the record carried by an end chunk
    parameter USER_WIDTH = 100
)
(
    input  wire                  clk,
    input  wire                  rst,

    /*
     * Chunks
     */
    input  wire [IN_BYTES*8-1:0] s_data,
    input  wire [COUNT_WIDTH-1:0] s_count,
    input  wire                  s_end,
    input  wire [USER_WIDTH-1:0] s_user,
    input  wire                  s_valid,
    output wire                  s_ready,

    /*
     * Packed frames
     */
    output wire [DATA_WIDTH-1:0] m_axis_tdata,
    output wire [KEEP_WIDTH-1:0] m_axis_tkeep,
    output wire                  m_axis_tvalid,
    input  wire                  m_axis_tready,
    output wire                  m_axis_tlast,
    output wire [USER_WIDTH-1:0] m_axis_tuser
);

localparam CAPACITY = KEEP_WIDTH + 2 * IN_BYTES;
localparam FILL_WIDTH = $clog2(CAPACITY + 1);

initial begin
    if (IN_BYTES > KEEP_WIDTH || KEEP_WIDTH * 8 != DATA_WIDTH) begin
        $error("Error: IN_BYTES must be at most KEEP_WIDTH = DATA_WIDTH/8 (instance %m)");
        $finish;
    end
end

reg [CAPACITY*8-1:0]  acc_reg = {CAPACITY*8{1'b0}}, acc_next;
reg [FILL_WIDTH-1:0]  fill_reg = {FILL_WIDTH{1'b0}}, fill_next;
reg                   end_reg = 1'b0, end_next;
reg [USER_WIDTH-1:0]  user_reg = {USER_WIDTH{1'b0}};

localparam [31:0] BEAT_FILL_WIDE = KEEP_WIDTH;
localparam [31:0] ROOM_FILL_WIDE = CAPACITY - IN_BYTES;
localparam [FILL_WIDTH-1:0] BEAT_FILL = BEAT_FILL_WIDE[FILL_WIDTH-1:0];
localparam [FILL_WIDTH-1:0] ROOM_FILL = ROOM_FILL_WIDE[FILL_WIDTH-1:0];

wire out_last = end_reg && fill_reg <= BEAT_FILL;
wire out_valid = end_reg || fill_reg > BEAT_FILL;
wire emit = out_valid && m_axis_tready;
wire accept = s_valid && s_ready;

assign s_ready = !end_reg && fill_reg <= ROOM_FILL;

reg [KEEP_WIDTH-1:0] keep;
integer lane;
always @* begin
    for (lane = 0; lane < KEEP_WIDTH; lane = lane + 1) begin
        keep[lane] = !out_last || lane < fill_reg;
    end
end

assign m_axis_tdata = acc_reg[DATA_WIDTH-1:0];
assign m_axis_tkeep = keep;
assign m_axis_tvalid = out_valid;
assign m_axis_tlast = out_last;
// The record only on the last beat: on other beats tuser is zero, so a beat held under
// backpressure keeps its tuser while the next frame's record is taken in.
assign m_axis_tuser = out_last ? user_reg : {USER_WIDTH{1'b0}};

reg [IN_BYTES*8-1:0] chunk;
integer chunk_lane;
always @* begin
    for (chunk_lane = 0; chunk_lane < IN_BYTES; chunk_lane = chunk_lane + 1) begin
        chunk[chunk_lane*8 +: 8] = chunk_lane < s_count ? s_data[chunk_lane*8 +: 8] : 8'd0;
    end
end

reg [CAPACITY*8-1:0] acc_kept;
reg [FILL_WIDTH-1:0] fill_kept;
always @* begin
    acc_kept = acc_reg;
    fill_kept = fill_reg;
    end_next = end_reg;
    if (emit) begin
        acc_kept = acc_reg >> DATA_WIDTH;
        fill_kept = out_last ? {FILL_WIDTH{1'b0}} : fill_reg - BEAT_FILL;
        end_next = !out_last && end_reg;
    end
    acc_next = acc_kept;
    fill_next = fill_kept;
    if (accept) begin
        acc_next = acc_kept | ({{(CAPACITY-IN_BYTES)*8{1'b0}}, chunk} << (fill_kept * 8));
        fill_next = fill_kept + {{(FILL_WIDTH-COUNT_WIDTH){1'b0}}, s_count};
        end_next = s_end;
    end
end

always @(posedge clk) begin
    acc_reg <= acc_next;
    fill_reg <= fill_next;
    end_reg <= end_next;
    if (accept && s_end) begin
        user_reg <= s_user;
    end

    if (rst) begin
        acc_reg <= {CAPACITY*8{1'b0}};
        fill_reg <= {FILL_WIDTH{1'b0}};
        end_reg <= 1'b0;
    end
end

endmodule

`resetall
`default_nettype wire
