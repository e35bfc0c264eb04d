/*
 * lzcache — AXI-Stream FIFO between two clock domains
 *
 * On a board the Ethernet core runs on its own clock, slower than the accelerator's: datagrams
 * cross between them here. Gray-coded pointers, each synchronized through two flip-flops into
 * the other domain: only one bit of a pointer changes per step, so a pointer sampled while it
 * moves is either its old or its new value, never a third.
 */

`resetall
`timescale 1ns / 1ps
`default_nettype none

// Beats written on s_clk come out on m_clk in order, with their tlast and tuser. s_axis_tready
// and m_axis_tvalid come from flip-flops (of their own domains); the output is registered. A
// write is seen by the reader two or three m_clk edges later, and freed space by the writer
// two or three s_clk edges after the read. The two resets must be asserted together (each
// synchronous to its own clock) and held for a few cycles of the slower clock: resetting one
// side alone while the other runs would break the pointers.
module axis_async_fifo #
(
    // Width of tdata in bits
    parameter DATA_WIDTH = 32,
    // Width of tuser in bits (at least 1)
    parameter USER_WIDTH = 1,
    // Number of entries (a power of two, at least 4)
    parameter DEPTH = 16
)
(
    /*
     * Input, on s_clk
     */
    input  wire                  s_clk,
    input  wire                  s_rst,
    input  wire [DATA_WIDTH-1:0] s_axis_tdata,
    input  wire                  s_axis_tvalid,
    output wire                  s_axis_tready,
    input  wire                  s_axis_tlast,
    input  wire [USER_WIDTH-1:0] s_axis_tuser,

    /*
     * Output, on m_clk
     */
    input  wire                  m_clk,
    input  wire                  m_rst,
    output wire [DATA_WIDTH-1:0] m_axis_tdata,
    output wire                  m_axis_tvalid,
    input  wire                  m_axis_tready,
    output wire                  m_axis_tlast,
    output wire [USER_WIDTH-1:0] m_axis_tuser
);

localparam ADDR_WIDTH = $clog2(DEPTH);
localparam ENTRY_WIDTH = DATA_WIDTH + 1 + USER_WIDTH;

initial begin
    if (DEPTH < 4 || (1 << ADDR_WIDTH) != DEPTH) begin
        $error("Error: DEPTH must be a power of two, at least 4 (instance %m)");
        $finish;
    end
    if (USER_WIDTH < 1) begin
        $error("Error: USER_WIDTH must be at least 1 (instance %m)");
        $finish;
    end
end

function [ADDR_WIDTH:0] gray;
    input [ADDR_WIDTH:0] binary;
    begin
        gray = binary ^ (binary >> 1);
    end
endfunction

// Written on s_clk; read on m_clk only at entries the writer has published.
reg [ENTRY_WIDTH-1:0] mem [0:DEPTH-1];

/*
 * Write side (s_clk)
 */

reg [ADDR_WIDTH:0] wr_ptr_reg = {(ADDR_WIDTH+1){1'b0}};
reg [ADDR_WIDTH:0] wr_ptr_gray_reg = {(ADDR_WIDTH+1){1'b0}};
// The reader's pointer, two flip-flops into s_clk
reg [ADDR_WIDTH:0] rd_ptr_gray_sync1_reg = {(ADDR_WIDTH+1){1'b0}};
reg [ADDR_WIDTH:0] rd_ptr_gray_sync2_reg = {(ADDR_WIDTH+1){1'b0}};

// Full: the writer is one lap ahead — in Gray code, the two top bits differ and the rest match.
wire full = wr_ptr_gray_reg ==
    (rd_ptr_gray_sync2_reg ^ {2'b11, {(ADDR_WIDTH-1){1'b0}}});
wire write = s_axis_tvalid && !full;
wire [ADDR_WIDTH:0] wr_ptr_next = wr_ptr_reg + 1'b1;

assign s_axis_tready = !full;

always @(posedge s_clk) begin
    rd_ptr_gray_sync1_reg <= rd_ptr_gray_reg;
    rd_ptr_gray_sync2_reg <= rd_ptr_gray_sync1_reg;

    if (write) begin
        mem[wr_ptr_reg[ADDR_WIDTH-1:0]] <= {s_axis_tuser, s_axis_tlast, s_axis_tdata};
        wr_ptr_reg <= wr_ptr_next;
        wr_ptr_gray_reg <= gray(wr_ptr_next);
    end

    if (s_rst) begin
        wr_ptr_reg <= {(ADDR_WIDTH+1){1'b0}};
        wr_ptr_gray_reg <= {(ADDR_WIDTH+1){1'b0}};
        rd_ptr_gray_sync1_reg <= {(ADDR_WIDTH+1){1'b0}};
        rd_ptr_gray_sync2_reg <= {(ADDR_WIDTH+1){1'b0}};
    end
end

/*
 * Read side (m_clk)
 */

reg [ADDR_WIDTH:0] rd_ptr_reg = {(ADDR_WIDTH+1){1'b0}};
reg [ADDR_WIDTH:0] rd_ptr_gray_reg = {(ADDR_WIDTH+1){1'b0}};
// The writer's pointer, two flip-flops into m_clk
reg [ADDR_WIDTH:0] wr_ptr_gray_sync1_reg = {(ADDR_WIDTH+1){1'b0}};
reg [ADDR_WIDTH:0] wr_ptr_gray_sync2_reg = {(ADDR_WIDTH+1){1'b0}};

reg [ENTRY_WIDTH-1:0] m_entry_reg = {ENTRY_WIDTH{1'b0}};
reg                   m_valid_reg = 1'b0;

wire empty = rd_ptr_gray_reg == wr_ptr_gray_sync2_reg;
// The output register takes the oldest entry when it is empty or its beat leaves now.
wire read = !empty && (!m_valid_reg || m_axis_tready);
wire [ADDR_WIDTH:0] rd_ptr_next = rd_ptr_reg + 1'b1;

assign m_axis_tdata = m_entry_reg[DATA_WIDTH-1:0];
assign m_axis_tlast = m_entry_reg[DATA_WIDTH];
assign m_axis_tuser = m_entry_reg[DATA_WIDTH+1 +: USER_WIDTH];
assign m_axis_tvalid = m_valid_reg;

always @(posedge m_clk) begin
    wr_ptr_gray_sync1_reg <= wr_ptr_gray_reg;
    wr_ptr_gray_sync2_reg <= wr_ptr_gray_sync1_reg;

    if (read) begin
        m_entry_reg <= mem[rd_ptr_reg[ADDR_WIDTH-1:0]];
        m_valid_reg <= 1'b1;
        rd_ptr_reg <= rd_ptr_next;
        rd_ptr_gray_reg <= gray(rd_ptr_next);
    end else if (m_axis_tready) begin
        m_valid_reg <= 1'b0;
    end

    if (m_rst) begin
        m_valid_reg <= 1'b0;
        rd_ptr_reg <= {(ADDR_WIDTH+1){1'b0}};
        rd_ptr_gray_reg <= {(ADDR_WIDTH+1){1'b0}};
        wr_ptr_gray_sync1_reg <= {(ADDR_WIDTH+1){1'b0}};
        wr_ptr_gray_sync2_reg <= {(ADDR_WIDTH+1){1'b0}};
    end
end

endmodule

`resetall
`default_nettype wire
