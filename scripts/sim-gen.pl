#!/usr/bin/perl
# sim-gen.pl: prepares CUDA sources for the host simulator (see src/test/native/sim/README.md).
#
#   perl scripts/sim-gen.pl OUT_DIR MODULE.cu...
#
# For each source directory, copies its *.cu / *.cuh / *.h into OUT_DIR/src/<dir tag>/ with one rewrite:
# `extern __shared__ T name[];` (dynamic shared memory, sized by the launch) becomes a pointer to the
# block's dynamic shared memory. (Static `__shared__` needs no rewrite: sim_cuda.h makes it thread_local.)
# For each MODULE.cu, finds its `extern "C" __global__` kernels and writes OUT_DIR/<module>.sim.cpp:
# the source, then the module's kernel table (name -> invoker that unpacks cuLaunchKernel's void**).
# Also writes OUT_DIR/kernels.txt: "module kernel" per line.
use strict;
use warnings;
use File::Basename qw(basename dirname);
use File::Path qw(make_path);
use Cwd qw(abs_path);

my ($out, @modules) = @ARGV;
die "usage: sim-gen.pl OUT_DIR MODULE.cu...\n" unless defined $out && @modules;
make_path("$out/src");

sub slurp { my ($f) = @_; open(my $h, '<', $f) or die "$f: $!\n"; local $/; my $s = <$h>; close $h; return $s; }
sub spit {
    my ($f, $s) = @_;
    # Leave an unchanged file alone, so the build's timestamps stay meaningful.
    return if -f $f && slurp($f) eq $s;
    open(my $h, '>', $f) or die "$f: $!\n"; print $h $s; close $h;
}

# Comments blanked (same length, newlines kept; string literals skipped): for scanning, not for output.
sub blank_comments {
    my ($s) = @_;
    $s =~ s{(//[^\n]*|/\*.*?\*/|"(?:\\.|[^"\\\n])*"|'(?:\\.|[^'\\\n])*')}{
        my $m = $1; (my $b = $m) =~ s/[^\n]/ /g;
        $m =~ /^["']/ ? $m : $b
    }gse;
    return $s;
}

sub rewrite_extern_shared {
    my ($src, $file) = @_;
    my $scan = blank_comments($src);
    my @edits;
    while ($scan =~ /\bextern\s+__shared__\s+((?:[^;\[\]()]|\((?:[^()]|\([^()]*\))*\))*?)\s*\b([A-Za-z_]\w*)\s*\[\s*\]\s*;/g) {
        my ($start, $end, $type, $name) = ($-[0], $+[0], $1, $2);
        $type =~ s/__align__\s*\((?:[^()]|\([^()]*\))*\)//g;
        $type =~ s/alignas\s*\((?:[^()]|\([^()]*\))*\)//g;
        $type =~ s/__attribute__\s*\(\((?:[^()]|\([^()]*\))*\)\)//g;
        $type =~ s/\s+/ /g; $type =~ s/^ | $//g;
        my $before = substr($scan, 0, $start);
        my $depth = ($before =~ tr/{//) - ($before =~ tr/}//);
        my $nl = () = substr($src, $start, $end - $start) =~ /\n/g;
        my $repl = $depth > 0
            ? "$type *const $name = reinterpret_cast<$type *>(::sim::dynamic_shared());"
            : "\n#define $name (reinterpret_cast<$type *>(::sim::dynamic_shared()))\n";
        push @edits, [$start, $end, $repl . ("\n" x $nl)];
    }
    for my $e (reverse @edits) { substr($src, $e->[0], $e->[1] - $e->[0]) = $e->[2]; }
    return $src;
}

# Copies a source directory (rewritten) once; returns its tag under OUT_DIR/src.
my %dir_tag;
sub prepare_dir {
    my ($dir) = @_;
    my $abs = abs_path($dir);
    return $dir_tag{$abs} if exists $dir_tag{$abs};
    my $tag = basename($abs);
    $tag .= "_" . scalar(keys %dir_tag) while grep { $_ eq $tag } values %dir_tag;
    make_path("$out/src/$tag");
    opendir(my $dh, $abs) or die "$abs: $!\n";
    for my $f (sort readdir $dh) {
        next unless $f =~ /\.(cu|cuh|h|hpp|inl)$/;
        spit("$out/src/$tag/$f", rewrite_extern_shared(slurp("$abs/$f"), "$abs/$f"));
    }
    closedir $dh;
    $dir_tag{$abs} = $tag;
    return $tag;
}

# Splits "a, f(b, c), d" at top-level commas.
sub split_top {
    my ($s) = @_;
    my @parts;
    my ($cur, $depth) = ('', 0);
    for my $ch (split //, $s) {
        if ($ch eq ',' && $depth == 0) { push @parts, $cur; $cur = ''; next; }
        $depth++ if $ch =~ /[(<\[]/;
        $depth-- if $ch =~ /[)>\]]/;
        $cur .= $ch;
    }
    push @parts, $cur if $cur =~ /\S/;
    s/^\s+|\s+$//g for @parts;
    return @parts;
}

sub c_string { my ($s) = @_; $s =~ s/\s+/ /g; $s =~ s/^ | $//g; $s =~ s/(["\\])/\\$1/g; return "\"$s\""; }

my @list;
for my $cu (@modules) {
    my $module = basename($cu, '.cu');
    die "module name '$module' must be an identifier\n" unless $module =~ /^[A-Za-z_]\w*$/;
    my $tag = prepare_dir(dirname($cu));
    my $src = slurp($cu);
    my $scan = blank_comments($src);
    my (%seen, @kernels);
    while ($scan =~ /\bextern\s+"C"\s+([^;{}()]*?(?:__launch_bounds__\s*\((?:[^()]|\([^()]*\))*\)[^;{}()]*?)?)\b(?!__launch_bounds__\b)([A-Za-z_]\w*)\s*\(/g) {
        my ($quals, $name, $open) = ($1, $2, $+[0]);
        next unless $quals =~ /\b__global__\b/;
        # The parameter list: up to the matching parenthesis.
        my ($depth, $i) = (1, $open);
        while ($i < length($scan) && $depth > 0) {
            my $ch = substr($scan, $i, 1);
            $depth++ if $ch eq '(';
            $depth-- if $ch eq ')';
            $i++;
        }
        my $params = substr($src, $open, $i - 1 - $open);
        pos($scan) = $i;
        next if $seen{$name}++;
        my $max = 0;
        if ($quals =~ /__launch_bounds__\s*\(((?:[^()]|\([^()]*\))*)\)/) {
            my @args = split_top($1);
            $max = "($args[0])";
        }
        push @kernels, [$name, $max, $params];
        push @list, "$module $name";
    }
    warn "sim-gen: $cu declares no extern \"C\" __global__ kernel\n" unless @kernels;
    my $gen = "// Generated by scripts/sim-gen.pl from $cu: do not edit.\n"
        . "#include \"sim_cuda.h\"\n"
        . "#include \"src/$tag/$module.cu\"\n"
        . "#include \"sim_module.h\"\n\n"
        . "namespace {\n"
        . "thread_local char sim_tls_anchor_;\n"
        . "void* sim_tls_touch_() { return &sim_tls_anchor_; }\n"
        . "const ::sim::KernelDesc sim_kernels_[] = {\n";
    $gen .= "    SIM_KERNEL($_->[0], $_->[1], " . c_string($_->[2]) . "),\n" for @kernels;
    $gen .= "    {nullptr, nullptr, 0, nullptr, nullptr, 0},\n" unless @kernels;
    $gen .= "};\n}  // namespace\n\n"
        . "extern \"C\" __attribute__((visibility(\"default\"))) const ::sim::ModuleDesc* sim_module_desc() {\n"
        . "    static const ::sim::ModuleDesc desc{::sim::kModuleAbi, \"$module\", sim_kernels_, " . scalar(@kernels)
        . ", &sim_tls_touch_};\n"
        . "    return &desc;\n}\n";
    spit("$out/$module.sim.cpp", $gen);
}
spit("$out/kernels.txt", join("", map { "$_\n" } @list));
