# Charts from frame_bench's CSV files:
#   gnuplot -e "dir='bench-results'" bench/plot.gp
# writes dir/frame_cost.png (median ns per frame against K, every competitor,
# with and without touching) and dir/spike.png (committed bytes over the spike).
if (!exists("dir")) dir = 'bench-results'
csv = dir.'/frame_bench.csv'
names = "ours ours_call ours_cursor ours_huge bump floor glibc mimalloc mimalloc_heap jemalloc tcmalloc"
# a colour of its own for each name (gnuplot's default cycle has eight, so
# the ninth line on took the colour of the first ones again)
colors = "#6a0dad #b07cd8 #3f51b5 #e377c2 #e6b800 #1f77b4 #d62728 #000000 #8c564b #2ca02c #17becf"
rows(workload, name) = sprintf("< awk -F, '$1==\"%s\" && $3==\"%s\"' %s", workload, name, csv)

set datafile separator ","
set terminal pngcairo size 1400,600 font "DejaVu Sans,10" noenhanced
set output dir.'/frame_cost.png'
set xrange [700:150000]
set multiplot layout 1,2
set logscale xy
set xlabel "allocations per frame (K)"
set ylabel "ns per frame (median)"
set key top left
set grid
set xtics ("1k" 1000, "10k" 10000, "100k" 100000)
set title "mixed sizes, first and last byte touched"
plot for [i=1:words(names)] rows("frame_touched", word(names, i)) using 2:4 with linespoints \
    lc rgb word(colors, i) pt i title word(names, i)
set title "mixed sizes, not touched (allocator cost alone)"
plot for [i=1:words(names)] rows("frame_untouched", word(names, i)) using 2:4 with linespoints \
    lc rgb word(colors, i) pt i title word(names, i)
unset multiplot

set output dir.'/spike.png'
set terminal pngcairo size 1000,450 font "DejaVu Sans,10" noenhanced
unset logscale
set autoscale x
set xtics auto
set key top right
set title "spike: 60 frames, one 10x frame, 600 frames (frame arena, trim_after 120)"
set xlabel "frame"
set ylabel "MiB"
plot dir.'/spike.csv' every ::1 using 1:($2/1048576) with steps lw 2 title "committed (both buffers)", \
     dir.'/spike.csv' every ::1 using 1:($3/1048576) with steps title "used by the frame"
