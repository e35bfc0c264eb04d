/*
 * lzcache — simple dual-port RAM
 *
 * One write port and one registered read port on the same clock, written so that yosys and
 * vendor tools infer block RAM.
 */

`resetall
`timescale 1ns / 1ps
`default_nettype none

// Simple dual-port RAM with a synchronous, enabled read: rd_data holds its value while rd_en
// is low, which lets a stalled pipeline keep a read result without re-reading. A read of the
// address being written in the same cycle returns the old or the new word (tool dependent);
// callers never rely on either.
module ram_sdp #
(
    // Width of a word in bits
    parameter WIDTH = 8,
    // Number of words (a power of two)
    parameter DEPTH = 2048,
    // Width of an address
    parameter ADDR_WIDTH = $clog2(DEPTH),
    // 1 asks synthesis for block RAM even where the memory is small enough for LUT RAM
    // (yosys `ram_style`): a block RAM registers its read address itself, so a read address
    // that fans out to many small memories reaches a few address pins instead of a tree of
    // LUT RAMs and read multiplexers. 0 leaves the choice to the tool.
    parameter BLOCK_RAM = 0
)
(
    input  wire                  clk,

    /*
     * Write port
     */
    input  wire                  wr_en,
    input  wire [ADDR_WIDTH-1:0] wr_addr,
    input  wire [WIDTH-1:0]      wr_data,

    /*
     * Read port (one cycle of latency)
     */
    input  wire                  rd_en,
    input  wire [ADDR_WIDTH-1:0] rd_addr,
    output reg  [WIDTH-1:0]      rd_data
);

initial begin
    if ((1 << ADDR_WIDTH) != DEPTH) begin
        $error("Error: DEPTH must be a power of two (instance %m)");
        $finish;
    end
end

initial begin
    rd_data = {WIDTH{1'b0}};
end

// The two branches differ only in the attribute: an attribute's value cannot come from a
// parameter, so the memory is written out once per choice.
generate
    if (BLOCK_RAM != 0) begin : block_ram
        (* ram_style = "block" *)
        reg [WIDTH-1:0] mem [0:DEPTH-1];

        always @(posedge clk) begin
            if (wr_en) begin
                mem[wr_addr] <= wr_data;
            end
            if (rd_en) begin
                rd_data <= mem[rd_addr];
            end
        end
    end else begin : any_ram
        reg [WIDTH-1:0] mem [0:DEPTH-1];

        always @(posedge clk) begin
            if (wr_en) begin
                mem[wr_addr] <= wr_data;
            end
            if (rd_en) begin
                rd_data <= mem[rd_addr];
            end
        end
    end
endgenerate

endmodule

`resetall
`default_nettype wire
