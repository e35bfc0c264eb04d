/*
 * lzcache — place-and-route top for lz4_compress, narrow configuration
 */

`resetall
`timescale 1ns / 1ps
`default_nettype none

// lz4_compress in its narrow configuration (64-bit stream, 1024-entry hash table, 4 KiB
// window, literal buffer and preset dictionary) with every port registered by
// pnr_port_harness.
module pnr_lz4_compress
(
    input  wire clk,
    input  wire rst,
    input  wire serial_in,
    input  wire load,
    output wire serial_out
);

localparam DATA_WIDTH = 64;
localparam KEEP_WIDTH = DATA_WIDTH / 8;
localparam USER_WIDTH = 128;
localparam IN_BITS = DATA_WIDTH + KEEP_WIDTH + 3 + USER_WIDTH;
localparam OUT_BITS = DATA_WIDTH + KEEP_WIDTH + 3 + 128;

wire [IN_BITS-1:0]  dut_in;
wire [OUT_BITS-1:0] dut_out;

// Reset through two flip-flops, as from any asynchronous pin.
reg [1:0] rst_sync_reg = 2'b11;

always @(posedge clk) begin
    rst_sync_reg <= {rst_sync_reg[0], rst};
end

pnr_port_harness #(
    .IN_BITS(IN_BITS),
    .OUT_BITS(OUT_BITS)
)
harness (
    .clk(clk),
    .serial_in(serial_in),
    .load(load),
    .serial_out(serial_out),
    .dut_in(dut_in),
    .dut_out(dut_out)
);

lz4_compress #(
    .DATA_WIDTH(DATA_WIDTH),
    .HASH_BITS(10),
    .WINDOW_SIZE(4096),
    .LIT_BUFFER(4096),
    .DICT_SIZE(4096)
)
dut (
    .clk(clk),
    .rst(rst_sync_reg[1]),
    .s_axis_tdata(dut_in[DATA_WIDTH-1:0]),
    .s_axis_tkeep(dut_in[DATA_WIDTH +: KEEP_WIDTH]),
    .s_axis_tvalid(dut_in[DATA_WIDTH+KEEP_WIDTH]),
    .s_axis_tlast(dut_in[DATA_WIDTH+KEEP_WIDTH+1]),
    .m_axis_tready(dut_in[DATA_WIDTH+KEEP_WIDTH+2]),
    .s_axis_tuser(dut_in[DATA_WIDTH+KEEP_WIDTH+3 +: USER_WIDTH]),
    .s_axis_tready(dut_out[DATA_WIDTH+KEEP_WIDTH+2]),
    .m_axis_tdata(dut_out[DATA_WIDTH-1:0]),
    .m_axis_tkeep(dut_out[DATA_WIDTH +: KEEP_WIDTH]),
    .m_axis_tvalid(dut_out[DATA_WIDTH+KEEP_WIDTH]),
    .m_axis_tlast(dut_out[DATA_WIDTH+KEEP_WIDTH+1]),
    .m_axis_tuser(dut_out[DATA_WIDTH+KEEP_WIDTH+3 +: 128])
);

endmodule

`resetall
`default_nettype wire
