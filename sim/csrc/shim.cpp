// lzcache-sim C shim: adapts each Verilated model to the C interface in shim.h.
//
// build.rs writes models_include.inc (each model's header) and models_list.inc (one
// LZ_MODEL(class, "name", beat_bytes, Ports, traced) line per model). `Ports` names the adapter that
// knows a top's sideband signals; the AXI-Stream ports are the same on every top.

#include "shim.h"

#include <cstring>
#include <memory>
#include <string>
#include <type_traits>

#include "verilated.h"
#include "verilated_vcd_c.h"

#include "models_include.inc"

namespace {

// Port access for the widths Verilator uses: integral types up to 64 bits, VlWide above.
template <class T>
void set_port(T &port, const uint8_t *bytes, size_t nbytes) {
    T value = 0;
    for (size_t i = 0; i < nbytes && i < sizeof(T); ++i) {
        value |= static_cast<T>(bytes[i]) << (8 * i);
    }
    port = value;
}

template <std::size_t N>
void set_port(VlWide<N> &port, const uint8_t *bytes, size_t nbytes) {
    for (std::size_t w = 0; w < N; ++w) {
        uint32_t word = 0;
        for (size_t b = 0; b < 4 && 4 * w + b < nbytes; ++b) {
            word |= static_cast<uint32_t>(bytes[4 * w + b]) << (8 * b);
        }
        port[w] = word;
    }
}

template <class T>
void get_port(const T &port, uint8_t *bytes, size_t nbytes) {
    for (size_t i = 0; i < nbytes; ++i) {
        bytes[i] = i < sizeof(T) ? static_cast<uint8_t>(static_cast<uint64_t>(port) >> (8 * i)) : 0;
    }
}

template <std::size_t N>
void get_port(const VlWide<N> &port, uint8_t *bytes, size_t nbytes) {
    for (size_t i = 0; i < nbytes; ++i) {
        bytes[i] = i / 4 < N ? static_cast<uint8_t>(port[i / 4] >> (8 * (i % 4))) : 0;
    }
}

// AXI4-Lite master signals driven into a model, and its slave signals sampled each cycle.
struct AxilIn {
    uint32_t awaddr = 0, wdata = 0, araddr = 0;
    uint8_t awvalid = 0, wvalid = 0, wstrb = 0, bready = 0, arvalid = 0, rready = 0;
};
struct AxilOut {
    uint32_t rdata = 0;
    uint8_t awready = 0, wready = 0, bvalid = 0, arready = 0, rvalid = 0;
};

// Tops without registers.
struct NoAxil {
    static constexpr bool kAxil = false;
    template <class M>
    static void drive_axil(M &, const AxilIn &) {}
    template <class M>
    static void sample_axil(M &, AxilOut &) {}
};

// Tops with an s_axil_* slave port.
struct WithAxil {
    static constexpr bool kAxil = true;
    template <class M>
    static void drive_axil(M &m, const AxilIn &in) {
        m.s_axil_awaddr = in.awaddr;
        m.s_axil_awprot = 0;
        m.s_axil_awvalid = in.awvalid;
        m.s_axil_wdata = in.wdata;
        m.s_axil_wstrb = in.wstrb;
        m.s_axil_wvalid = in.wvalid;
        m.s_axil_bready = in.bready;
        m.s_axil_araddr = in.araddr;
        m.s_axil_arprot = 0;
        m.s_axil_arvalid = in.arvalid;
        m.s_axil_rready = in.rready;
    }
    template <class M>
    static void sample_axil(M &m, AxilOut &out) {
        out.awready = m.s_axil_awready;
        out.wready = m.s_axil_wready;
        out.bvalid = m.s_axil_bvalid;
        out.arready = m.s_axil_arready;
        out.rvalid = m.s_axil_rvalid;
        out.rdata = m.s_axil_rdata;
    }
};

// Sideband of the crc64_nvme top: the frame CRC travels with the output's last beat.
struct CrcPorts : NoAxil {
    template <class M>
    static void drive_user(M &, const uint64_t *) {}
    template <class M>
    static void sample_user(M &m, uint64_t *user) {
        user[0] = m.m_axis_crc;
        user[1] = 0;
    }
};

// Tops with 128-bit s_axis_tuser and m_axis_tuser (the LZ4 engines).
struct UserPorts : NoAxil {
    template <class M>
    static void drive_user(M &m, const uint64_t *user) {
        uint8_t bytes[16];
        for (size_t i = 0; i < 16; ++i) {
            bytes[i] = static_cast<uint8_t>(user[i / 8] >> (8 * (i % 8)));
        }
        set_port(m.s_axis_tuser, bytes, sizeof(bytes));
    }
    template <class M>
    static void sample_user(M &m, uint64_t *user) {
        uint8_t bytes[16];
        get_port(m.m_axis_tuser, bytes, sizeof(bytes));
        user[0] = user[1] = 0;
        for (size_t i = 0; i < 16; ++i) {
            user[i / 8] |= static_cast<uint64_t>(bytes[i]) << (8 * (i % 8));
        }
    }
};

// The cache_accelerator top: plain streams (headers are in-band) and AXI-Lite registers.
struct AccelPorts : WithAxil {
    template <class M>
    static void drive_user(M &, const uint64_t *) {}
    template <class M>
    static void sample_user(M &, uint64_t *user) {
        user[0] = user[1] = 0;
    }
};

// The board core: datagram words in and out; tuser is the UDP core's error flag going in and
// the reply address ({port, IPv4}) coming out. No registers of its own: they travel in
// datagrams.
struct BoardPorts : NoAxil {
    template <class M>
    static void drive_user(M &m, const uint64_t *user) {
        m.s_axis_tuser = user[0] & 1;
    }
    template <class M>
    static void sample_user(M &m, uint64_t *user) {
        user[0] = static_cast<uint64_t>(m.m_axis_tuser);
        user[1] = 0;
    }
};

}  // namespace

struct lz_dut {
    virtual ~lz_dut() = default;
    virtual void cycle(const lz_beat *s, int m_ready, lz_cycle_result *result) = 0;
    virtual void set_reset(int active) = 0;
    virtual int trace_open(const char *path, uint64_t start, uint64_t count) = 0;
    virtual void trace_close() = 0;
    virtual int axil_write(uint32_t addr, uint32_t data) = 0;
    virtual int axil_read(uint32_t addr, uint32_t *data) = 0;
    uint64_t cycles = 0;
};

namespace {

// TRACED: the model was verilated with --trace (build.rs decides which are); the others have
// no trace() to call, and the branches that would call it are not instantiated.
template <class M, class Ports, size_t BEAT_BYTES, bool TRACED>
class Model final : public lz_dut {
public:
    Model() : context_(new VerilatedContext) {
        // Must precede the model's construction for its signals to be traceable later.
        context_->traceEverOn(TRACED);
        model_.reset(new M(context_.get(), "top"));
        model_->clk = 0;
        model_->rst = 0;
        model_->eval();
    }

    ~Model() override {
        model_->final();
        trace_close();
    }

    int trace_open(const char *path, uint64_t start, uint64_t count) override {
        trace_close();
        if constexpr (!TRACED) {
            (void)path;
            (void)start;
            (void)count;
            return -2;
        } else {
            trace_.reset(new VerilatedVcdC);
            model_->trace(trace_.get(), 99);
            trace_->open(path);
            if (!trace_->isOpen()) {
                trace_.reset();
                return -1;
            }
            trace_start_ = start;
            trace_end_ = start + count;
            return 0;
        }
    }

    void trace_close() override {
        if (trace_) {
            trace_->close();
            trace_.reset();
        }
    }

    void set_reset(int active) override { model_->rst = active ? 1 : 0; }

    void cycle(const lz_beat *s, int m_ready, lz_cycle_result *result) override {
        M &m = *model_;
        m.clk = 0;
        set_port(m.s_axis_tdata, s->data, BEAT_BYTES);
        m.s_axis_tkeep = static_cast<std::remove_reference_t<decltype(m.s_axis_tkeep)>>(s->keep);
        m.s_axis_tvalid = s->valid ? 1 : 0;
        m.s_axis_tlast = s->last ? 1 : 0;
        Ports::drive_user(m, s->user);
        Ports::drive_axil(m, axil_in_);
        m.m_axis_tready = m_ready ? 1 : 0;
        m.eval();
        Ports::sample_axil(m, axil_out_);
        dump(10 * cycles + 5);

        // The handshake happens at the coming edge, with the values settled now.
        result->s_ready = m.s_axis_tready;
        std::memset(&result->m, 0, sizeof(result->m));
        result->m.valid = m.m_axis_tvalid;
        if (m.m_axis_tvalid) {
            get_port(m.m_axis_tdata, result->m.data, BEAT_BYTES);
            result->m.keep = static_cast<uint64_t>(m.m_axis_tkeep);
            result->m.last = m.m_axis_tlast;
            Ports::sample_user(m, result->m.user);
        }

        m.clk = 1;
        m.eval();
        ++cycles;
        context_->time(10 * cycles);
        dump(10 * cycles);
    }

    int axil_write(uint32_t addr, uint32_t data) override {
        if (!Ports::kAxil) {
            return -1;
        }
        axil_in_ = AxilIn{};
        axil_in_.awaddr = addr;
        axil_in_.wdata = data;
        axil_in_.wstrb = 0xF;
        axil_in_.awvalid = 1;
        axil_in_.wvalid = 1;
        axil_in_.bready = 1;
        return axil_run([this](const AxilOut &out, bool &accepted) {
            if (!accepted && out.awready && out.wready) {
                accepted = true;
                axil_in_.awvalid = 0;
                axil_in_.wvalid = 0;
                return false;
            }
            return accepted && out.bvalid;
        });
    }

    int axil_read(uint32_t addr, uint32_t *data) override {
        if (!Ports::kAxil) {
            return -1;
        }
        axil_in_ = AxilIn{};
        axil_in_.araddr = addr;
        axil_in_.arvalid = 1;
        axil_in_.rready = 1;
        return axil_run([this, data](const AxilOut &out, bool &accepted) {
            if (!accepted && out.arready) {
                accepted = true;
                axil_in_.arvalid = 0;
                return false;
            }
            if (accepted && out.rvalid) {
                *data = out.rdata;
                return true;
            }
            return false;
        });
    }

private:
    // Clocks the model with idle streams until `step` (called with the signals sampled before
    // each edge) reports the transaction complete; then releases the bus.
    template <class Step>
    int axil_run(Step step) {
        lz_beat idle;
        std::memset(&idle, 0, sizeof(idle));
        lz_cycle_result ignored;
        bool accepted = false;
        for (int i = 0; i < 64; ++i) {
            cycle(&idle, 0, &ignored);
            if (step(axil_out_, accepted)) {
                axil_in_ = AxilIn{};
                return 0;
            }
        }
        axil_in_ = AxilIn{};
        return -1;
    }

    void dump(uint64_t time) {
        if (trace_ && cycles >= trace_start_ && cycles < trace_end_) {
            trace_->dump(time);
        }
    }

    std::unique_ptr<VerilatedContext> context_;
    std::unique_ptr<M> model_;
    std::unique_ptr<VerilatedVcdC> trace_;
    uint64_t trace_start_ = 0;
    uint64_t trace_end_ = 0;
    AxilIn axil_in_;
    AxilOut axil_out_;
};

struct ModelInfo {
    const char *name;
    int beat_bytes;
    lz_dut *(*create)();
};

template <class M, class Ports, size_t BEAT_BYTES, bool TRACED>
lz_dut *create() {
    return new Model<M, Ports, BEAT_BYTES, TRACED>();
}

#define LZ_MODEL(cls, name, bytes, ports, traced) {name, bytes, &create<cls, ports, bytes, traced>},
const ModelInfo MODELS[] = {
#include "models_list.inc"
};
#undef LZ_MODEL

const int MODEL_COUNT = sizeof(MODELS) / sizeof(MODELS[0]);

const ModelInfo *find(const char *name) {
    for (const ModelInfo &info : MODELS) {
        if (std::strcmp(info.name, name) == 0) {
            return &info;
        }
    }
    return nullptr;
}

}  // namespace

extern "C" {

int lz_model_count(void) { return MODEL_COUNT; }

const char *lz_model_name(int index) {
    return index >= 0 && index < MODEL_COUNT ? MODELS[index].name : nullptr;
}

int lz_model_beat_bytes(const char *name) {
    const ModelInfo *info = find(name);
    return info ? info->beat_bytes : 0;
}

lz_dut *lz_dut_new(const char *name) {
    const ModelInfo *info = find(name);
    return info ? info->create() : nullptr;
}

int lz_dut_trace_open(lz_dut *dut, const char *path, uint64_t start, uint64_t count) {
    return dut->trace_open(path, start, count);
}

void lz_dut_trace_close(lz_dut *dut) { dut->trace_close(); }

void lz_dut_free(lz_dut *dut) { delete dut; }

void lz_dut_reset(lz_dut *dut, uint32_t cycles) {
    lz_beat idle;
    std::memset(&idle, 0, sizeof(idle));
    lz_cycle_result ignored;
    dut->set_reset(1);
    for (uint32_t i = 0; i < cycles; ++i) {
        dut->cycle(&idle, 0, &ignored);
    }
    dut->set_reset(0);
}

void lz_dut_set_reset(lz_dut *dut, int active) { dut->set_reset(active); }

void lz_dut_cycle(lz_dut *dut, const lz_beat *s, int m_ready, lz_cycle_result *result) {
    dut->cycle(s, m_ready, result);
}

uint64_t lz_dut_cycles(const lz_dut *dut) { return dut->cycles; }

int lz_dut_axil_write(lz_dut *dut, uint32_t addr, uint32_t data) {
    return dut->axil_write(addr, data);
}

int lz_dut_axil_read(lz_dut *dut, uint32_t addr, uint32_t *data) {
    return dut->axil_read(addr, data);
}

}  // extern "C"
