from monitor.cli import end_process, main

if __name__ == "__main__":
    end_process(main())
