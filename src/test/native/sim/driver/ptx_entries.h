// ptx_entries.h: what the driver shim reads from a PTX module (test infrastructure, see ../README.md):
// its .version, .target and .address_size, and every .entry with its parameter list and .maxntid. Enough
// to refuse PTX the configured driver or device could not load, and to check cuLaunchKernel's arguments
// against the declared parameters; the instructions themselves are not read (the simulator runs the
// kernel compiled from the same .cu source instead).
#pragma once
#include <cctype>
#include <cstdlib>
#include <string>
#include <vector>

namespace shim {

struct PtxParam {
    std::string name;  // e.g. softmax_rows_block_param_0
    std::string type;  // e.g. .u64, .f32, or .b8 for an aligned byte array
    int size = 0;      // bytes
};

struct PtxEntry {
    std::string name;
    std::vector<PtxParam> params;
    int maxntid = 0;  // product of .maxntid's dimensions, 0 when absent
};

struct PtxModule {
    int isa_major = 0, isa_minor = 0;  // .version
    int target_sm = 0;                 // .target sm_XY -> XY
    int address_size = 0;
    std::vector<PtxEntry> entries;
};

// Bytes of a scalar PTX parameter type; 0 when unknown.
inline int ptx_type_size(const std::string& t) {
    if (t.size() < 3) return 0;
    std::string bits = t.substr(2);
    if (t == ".pred") return 0;
    int b = atoi(bits.c_str());
    return (b == 8 || b == 16 || b == 32 || b == 64) ? b / 8 : 0;
}

class PtxReader {
public:
    explicit PtxReader(const char* text) : s_(text) {}

    // Parses the module; on failure returns false and sets error().
    bool read(PtxModule& out) {
        while (skip_space_and_comments(), s_[i_]) {
            std::string word = token();
            if (word == ".version") {
                std::string v = token();
                size_t dot = v.find('.');
                if (dot == std::string::npos) return fail("bad .version " + v);
                out.isa_major = atoi(v.substr(0, dot).c_str());
                out.isa_minor = atoi(v.substr(dot + 1).c_str());
            } else if (word == ".target") {
                std::string t = token();
                if (t.rfind("sm_", 0) != 0) return fail("bad .target " + t);
                out.target_sm = atoi(t.c_str() + 3);
                while (s_[i_] == ',') { i_++; token(); }  // e.g. ", debug"
            } else if (word == ".address_size") {
                out.address_size = atoi(token().c_str());
            } else if (word == ".entry") {
                PtxEntry e;
                if (!entry(e)) return false;
                out.entries.push_back(e);
            } else if (word == "{") {
                if (!skip_block()) return fail("unbalanced braces");
            }
        }
        if (!out.isa_major) return fail("no .version directive");
        if (!out.target_sm) return fail("no .target directive");
        return true;
    }

    const std::string& error() const { return error_; }

private:
    const char* s_;
    size_t i_ = 0;
    std::string error_;

    bool fail(const std::string& m) {
        error_ = m;
        return false;
    }

    void skip_space_and_comments() {
        for (;;) {
            while (s_[i_] && isspace((unsigned char)s_[i_])) i_++;
            if (s_[i_] == '/' && s_[i_ + 1] == '/') {
                while (s_[i_] && s_[i_] != '\n') i_++;
            } else if (s_[i_] == '/' && s_[i_ + 1] == '*') {
                i_ += 2;
                while (s_[i_] && !(s_[i_] == '*' && s_[i_ + 1] == '/')) i_++;
                if (s_[i_]) i_ += 2;
            } else {
                return;
            }
        }
    }

    // A directive, identifier or number; punctuation ( ) { } [ ] , ; is a token of its own.
    std::string token() {
        skip_space_and_comments();
        if (!s_[i_]) return "";
        if (strchr_("(){}[],;", s_[i_])) return std::string(1, s_[i_++]);
        size_t start = i_;
        while (s_[i_] && !isspace((unsigned char)s_[i_]) && !strchr_("(){}[],;", s_[i_])) i_++;
        return std::string(s_ + start, i_ - start);
    }

    static bool strchr_(const char* set, char c) {
        for (; *set; set++)
            if (*set == c) return true;
        return false;
    }

    bool skip_block() {
        int depth = 1;
        while (s_[i_] && depth) {
            skip_space_and_comments();
            char c = s_[i_];
            if (!c) break;
            if (c == '{') depth++;
            if (c == '}') depth--;
            i_++;
        }
        return depth == 0;
    }

    // After ".entry": NAME ( .param TYPE NAME , ... ) [performance directives] { body }
    bool entry(PtxEntry& e) {
        e.name = token();
        if (token() != "(") return fail("entry " + e.name + ": no parameter list");
        std::string t = token();
        while (t != ")") {
            if (t != ".param") return fail("entry " + e.name + ": expected .param, got '" + t + "'");
            PtxParam p;
            int align = 0;
            t = token();
            if (t == ".align") {
                align = atoi(token().c_str());
                t = token();
            }
            p.type = t;
            p.name = token();
            p.size = ptx_type_size(p.type);
            if (s_[i_] == '[') {  // .b8 name[N]: a by-value struct
                token();
                int n = atoi(token().c_str());
                if (token() != "]") return fail("entry " + e.name + ": bad array parameter " + p.name);
                p.size *= n;
            }
            (void)align;
            if (p.size <= 0) return fail("entry " + e.name + ": parameter " + p.name + " has unsupported type " + p.type);
            e.params.push_back(p);
            t = token();
            if (t == ",") t = token();
        }
        // performance directives up to the body
        for (t = token(); t != "{" && !t.empty(); t = token()) {
            if (t == ".maxntid") {
                int product = atoi(token().c_str());
                while (s_[i_] == ',' || isspace((unsigned char)s_[i_])) {
                    skip_space_and_comments();
                    if (s_[i_] != ',') break;
                    i_++;
                    product *= atoi(token().c_str());
                }
                e.maxntid = product;
            }
        }
        if (t != "{") return fail("entry " + e.name + ": no body");
        if (!skip_block()) return fail("entry " + e.name + ": unbalanced braces");
        return true;
    }
};

}  // namespace shim
