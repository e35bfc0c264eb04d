/*
 * lzcache — small synchronous FIFO
 *
 * For sideband records (a job's parameters, a frame's status) that must wait while the frame's
 * data passes through a pipeline.
 */

`resetall
`timescale 1ns / 1ps
`default_nettype none

// First-word-fall-through FIFO: m_data shows the oldest entry whenever m_valid is high.
// s_ready and m_valid come straight from flip-flops.
module sync_fifo #
(
    // Width of an entry in bits
    parameter WIDTH = 8,
    // Number of entries (a power of two, at least 2)
    parameter DEPTH = 4
)
(
    input  wire             clk,
    input  wire             rst,

    /*
     * Input
     */
    input  wire [WIDTH-1:0] s_data,
    input  wire             s_valid,
    output wire             s_ready,

    /*
     * Output
     */
    output wire [WIDTH-1:0] m_data,
    output wire             m_valid,
    input  wire             m_ready
);

localparam ADDR_WIDTH = $clog2(DEPTH);

initial begin
    if (DEPTH < 2 || (1 << ADDR_WIDTH) != DEPTH) begin
        $error("Error: DEPTH must be a power of two, at least 2 (instance %m)");
        $finish;
    end
end

reg [WIDTH-1:0] mem [0:DEPTH-1];

reg [ADDR_WIDTH:0] wr_ptr_reg = {(ADDR_WIDTH+1){1'b0}};
reg [ADDR_WIDTH:0] rd_ptr_reg = {(ADDR_WIDTH+1){1'b0}};

// The flags are registers, set from the pointers' next values, so that a producer's ready
// and a consumer's valid do not start with a pointer compare (the decompressor's frame
// record FIFO gates its packer's ready).
reg full_reg = 1'b0;
reg empty_reg = 1'b1;

wire               do_write = s_valid && !full_reg;
wire               do_read = m_ready && !empty_reg;
wire [ADDR_WIDTH:0] wr_ptr_next = wr_ptr_reg + {{ADDR_WIDTH{1'b0}}, do_write};
wire [ADDR_WIDTH:0] rd_ptr_next = rd_ptr_reg + {{ADDR_WIDTH{1'b0}}, do_read};

assign s_ready = !full_reg;
assign m_valid = !empty_reg;
assign m_data = mem[rd_ptr_reg[ADDR_WIDTH-1:0]];

always @(posedge clk) begin
    if (do_write) begin
        mem[wr_ptr_reg[ADDR_WIDTH-1:0]] <= s_data;
    end
    wr_ptr_reg <= wr_ptr_next;
    rd_ptr_reg <= rd_ptr_next;
    full_reg <= wr_ptr_next == (rd_ptr_next ^ {1'b1, {ADDR_WIDTH{1'b0}}});
    empty_reg <= wr_ptr_next == rd_ptr_next;

    if (rst) begin
        wr_ptr_reg <= {(ADDR_WIDTH+1){1'b0}};
        rd_ptr_reg <= {(ADDR_WIDTH+1){1'b0}};
        full_reg <= 1'b0;
        empty_reg <= 1'b1;
    end
end

endmodule

`resetall
`default_nettype wire
