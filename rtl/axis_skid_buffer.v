/*
 * lzcache — AXI-Stream skid buffer
 *
 * A full-throughput register slice: one beat per cycle, with both s_tready and every m_*
 * output driven from flip-flops, so no combinational path runs from m_tready to s_tready.
 */

`resetall
`timescale 1ns / 1ps
`default_nettype none

// Registered AXI-Stream stage with a second (skid) register that absorbs the beat in flight
// when the sink stops.
module axis_skid_buffer #
(
    // Width of the payload carried with each beat (data, keep, last, sideband: packed by the user)
    parameter WIDTH = 8
)
(
    input  wire             clk,
    input  wire             rst,

    /*
     * Input
     */
    input  wire [WIDTH-1:0] s_payload,
    input  wire             s_valid,
    output wire             s_ready,

    /*
     * Output
     */
    output wire [WIDTH-1:0] m_payload,
    output wire             m_valid,
    input  wire             m_ready
);

initial begin
    if (WIDTH < 1) begin
        $error("Error: WIDTH must be at least 1 (instance %m)");
        $finish;
    end
end

reg [WIDTH-1:0] out_payload_reg = {WIDTH{1'b0}}, out_payload_next;
reg             out_valid_reg = 1'b0, out_valid_next;
reg [WIDTH-1:0] skid_payload_reg = {WIDTH{1'b0}}, skid_payload_next;
reg             skid_valid_reg = 1'b0, skid_valid_next;
reg             ready_reg = 1'b0, ready_next;

assign s_ready = ready_reg;
assign m_payload = out_payload_reg;
assign m_valid = out_valid_reg;

always @* begin
    out_payload_next = out_payload_reg;
    out_valid_next = out_valid_reg;
    skid_payload_next = skid_payload_reg;
    skid_valid_next = skid_valid_reg;

    if (ready_reg) begin
        // Input side open: the beat goes to the output register if it is free or draining,
        // else into the skid register.
        if (m_ready || !out_valid_reg) begin
            out_payload_next = s_payload;
            out_valid_next = s_valid;
        end else begin
            skid_payload_next = s_payload;
            skid_valid_next = s_valid;
        end
    end else if (m_ready) begin
        // Input side closed: drain the skid register into the output.
        out_payload_next = skid_payload_reg;
        out_valid_next = skid_valid_reg;
        skid_valid_next = 1'b0;
    end

    // Open exactly when the skid register is empty: then a beat accepted next cycle has a
    // place to go whatever the sink does.
    ready_next = !skid_valid_next;
end

always @(posedge clk) begin
    out_payload_reg <= out_payload_next;
    out_valid_reg <= out_valid_next;
    skid_payload_reg <= skid_payload_next;
    skid_valid_reg <= skid_valid_next;
    ready_reg <= ready_next;

    if (rst) begin
        out_valid_reg <= 1'b0;
        skid_valid_reg <= 1'b0;
        ready_reg <= 1'b0;
    end
end

endmodule

`resetall
`default_nettype wire
