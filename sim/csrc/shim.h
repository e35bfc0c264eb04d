/*
 * lzcache-sim C shim: the only interface between Rust and the Verilated C++ models.
 *
 * Coarse operations on an opaque handle, so bindgen sees plain C and the C++ stays here.
 * Every model has an AXI-Stream input (s_axis_*) and output (m_axis_*), up to 512 bits wide,
 * and may carry up to 128 bits of sideband (tuser) with each beat in either direction: job
 * parameters with an input frame's first beat, a completion with an output frame's last.
 */
#ifndef LZCACHE_SIM_SHIM_H
#define LZCACHE_SIM_SHIM_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Largest stream beat, in bytes. */
#define LZ_MAX_BEAT_BYTES 64

/* One AXI-Stream beat. Bytes beyond the model's width are ignored / returned as zero. */
typedef struct lz_beat {
    uint8_t data[LZ_MAX_BEAT_BYTES];
    uint64_t keep;
    /* Sideband, least significant word first. */
    uint64_t user[2];
    uint8_t valid;
    uint8_t last;
} lz_beat;

/* What one clock cycle did: the handshake state sampled before the rising edge. */
typedef struct lz_cycle_result {
    /* s_axis_tready: the input beat (if valid) was taken at this edge. */
    uint8_t s_ready;
    /* The output beat presented in this cycle (valid says whether there was one). */
    lz_beat m;
} lz_cycle_result;

typedef struct lz_dut lz_dut;

/* Models compiled into this library. */
int lz_model_count(void);
const char *lz_model_name(int index);
/* Stream width of a model in bytes, or 0 for an unknown name. */
int lz_model_beat_bytes(const char *name);

/* Creates a model instance with its own simulation context, or NULL for an unknown name. */
lz_dut *lz_dut_new(const char *name);
/* Finishes the model and closes its trace, if one is open. */
void lz_dut_free(lz_dut *dut);

/* Opens a VCD waveform at `path` (closing any open one); only cycles in
 * [start, start + count) are written. Returns 0 on success, -1 if the file cannot be opened,
 * -2 if the model was built without waveform support (build with LZCACHE_SIM_TRACE=1). */
int lz_dut_trace_open(lz_dut *dut, const char *path, uint64_t start, uint64_t count);
/* Flushes and closes the open waveform, if any. */
void lz_dut_trace_close(lz_dut *dut);

/* Drives rst high for `cycles` clock cycles (inputs idle), then low. */
void lz_dut_reset(lz_dut *dut, uint32_t cycles);
/* Holds rst high for one cycle while the given input beat is presented (reset mid-stream). */
void lz_dut_set_reset(lz_dut *dut, int active);

/* One clock cycle: applies `s` and m_axis_tready, evaluates, samples the handshake, then
 * the rising edge. */
void lz_dut_cycle(lz_dut *dut, const lz_beat *s, int m_ready, lz_cycle_result *result);

/* Rising edges since creation. */
uint64_t lz_dut_cycles(const lz_dut *dut);

/* AXI4-Lite register access, for tops with an s_axil_* port. The streams are idle during the
 * access (no input beat, output not ready). Return 0, or -1 if the model has no AXI-Lite port
 * or the access did not complete within 64 cycles. */
int lz_dut_axil_write(lz_dut *dut, uint32_t addr, uint32_t data);
int lz_dut_axil_read(lz_dut *dut, uint32_t addr, uint32_t *data);

#ifdef __cplusplus
}
#endif

#endif
