/*
 * lzcache — place-and-route port harness
 *
 * Puts a flip-flop on every port of a module under test so that place-and-route times the
 * module's own register-to-register paths, with nothing optimised away, in a handful of pins.
 */

`resetall
`timescale 1ns / 1ps
`default_nettype none

// Serial-in, parallel-out input register and parallel-in, serial-out output register around
// a module's ports.
//
// The module's inputs come from a register loaded in parallel from a shift chain fed by one
// pin; its outputs are captured into a register that then shifts out on one pin. Every port
// bit is therefore driven by or feeds a flip-flop: the paths between those flip-flops and the
// module's own registers are what nextpnr reports, and since every output bit reaches a pin
// through the chain, no logic of the module can be removed as unused.
module pnr_port_harness #
(
    // Bits driven into the module's inputs (its clock excluded)
    parameter IN_BITS = 8,
    // Bits captured from the module's outputs
    parameter OUT_BITS = 8
)
(
    input  wire                clk,

    /*
     * Pins
     */
    input  wire                serial_in,
    // High: load the shifted-in bits into the input register and capture the outputs
    input  wire                load,
    output wire                serial_out,

    /*
     * Module under test
     */
    output wire [IN_BITS-1:0]  dut_in,
    input  wire [OUT_BITS-1:0] dut_out
);

initial begin
    if (IN_BITS < 2 || OUT_BITS < 2) begin
        $error("Error: IN_BITS and OUT_BITS must be at least 2 (instance %m)");
        $finish;
    end
end

reg                serial_in_reg = 1'b0;
reg                load_reg = 1'b0;
reg [IN_BITS-1:0]  shift_in_reg = {IN_BITS{1'b0}};
reg [IN_BITS-1:0]  dut_in_reg = {IN_BITS{1'b0}};
reg [OUT_BITS-1:0] capture_reg = {OUT_BITS{1'b0}};

assign dut_in = dut_in_reg;
assign serial_out = capture_reg[OUT_BITS-1];

always @(posedge clk) begin
    serial_in_reg <= serial_in;
    load_reg <= load;
    shift_in_reg <= {shift_in_reg[IN_BITS-2:0], serial_in_reg};
    if (load_reg) begin
        dut_in_reg <= shift_in_reg;
        capture_reg <= dut_out;
    end else begin
        capture_reg <= {capture_reg[OUT_BITS-2:0], 1'b0};
    end
end

endmodule

`resetall
`default_nettype wire
